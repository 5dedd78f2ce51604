import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders, reportOperation } from "../client/command-helpers.js";
import { type Page, printFields, printJson, printPage, printTable } from "../client/output.js";
import { exitCodeOf, type OperationBody, waitForOperation } from "../client/wait.js";

/** `keyferry ops show|list|cancel|retry|watch`, `keyferry ledger show|verify` and `keyferry queues`. */
export function registerOperationCommands(program: Command): void {
  const ops = program.command("ops").description("operations");

  clientCommand(ops.command("show <id>"))
    .description("an operation with its steps")
    .action(async (id: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const operation = await client.request<OperationBody>(
        "GET",
        `/v1/operations/${encodeURIComponent(id)}`,
      );
      if (flags.json) return printJson(operation);
      const { steps, ...rest } = operation;
      printFields(rest as unknown as Record<string, unknown>);
      printTable(steps as unknown as Array<Record<string, unknown>>, [
        "name",
        "state",
        "attempts",
        "finishedAt",
      ]);
    });

  clientCommand(ops.command("list"))
    .description("operations, newest first")
    .option("--state <state>", "queued, running, succeeded, failed or canceled")
    .option("--key <name>", "of one key")
    .option("--kms <name>", "on one destination")
    .option("--type <type>", "of one type")
    .option("--parent <id>", "the children of a bulk operation")
    .option("--cursor <cursor>", "the next page (printed after a full page)")
    .option("--limit <n>", "page size, 1 to 500 (default 100)")
    .action(async (options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const query = new URLSearchParams(
        Object.entries({
          state: options.state,
          key: options.key,
          kms: options.kms,
          type: options.type,
          parent: options.parent,
          cursor: options.cursor,
          limit: options.limit,
        }).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      );
      const listed = await client.request<Page>("GET", `/v1/operations${query.size > 0 ? `?${query}` : ""}`);
      if (flags.json) printJson(listed);
      else printPage(listed, ["id", "type", "state", "key", "kms", "createdAt"], "--cursor");
    });

  clientCommand(ops.command("watch <id>"))
    .description("follow an operation until it is done")
    .action(async (id: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const final = await waitForOperation(client, id);
      if (flags.json) printJson(final);
      else
        printFields({
          operation: final.id,
          state: final.state,
          ...(final.error ? { error: final.error.message } : {}),
        });
      process.exitCode = exitCodeOf(final);
    });

  for (const [verb, description] of [
    ["cancel", "stop a queued or running bulk operation between steps"],
    ["retry", "run a failed operation (or the failed children of a bulk one) again"],
  ] as const) {
    clientCommand(ops.command(`${verb} <id>`))
      .description(description)
      .option("--wait", "wait until the operation is done")
      .option("--idempotency-key <key>", "make retries of this command safe")
      .action(async (id: string, _options, command: Command) => {
        const { client, flags } = await clientOf(command);
        const accepted = await client.request<OperationBody>(
          "POST",
          `/v1/operations/${encodeURIComponent(id)}/${verb}`,
          undefined,
          idempotencyHeaders(command),
        );
        await reportOperation(client, flags, accepted);
      });
  }

  const ledger = program.command("ledger").description("the tamper-evident ledger");

  clientCommand(ledger.command("show"))
    .description("ledger entries, oldest first")
    .option("--key <name>", "of one key")
    .option("--kms <name>", "of one destination")
    .option("--operation <id>", "of one operation")
    .option("--after <seq>", "entries after this sequence number")
    .option("--limit <n>", "page size, 1 to 500 (default 100)")
    .action(async (options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const query = new URLSearchParams(
        Object.entries({
          key: options.key,
          kms: options.kms,
          operation: options.operation,
          after: options.after,
          limit: options.limit,
        }).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      );
      const listed = await client.request<Page>("GET", `/v1/ledger${query.size > 0 ? `?${query}` : ""}`);
      if (flags.json) printJson(listed);
      else printPage(listed, ["seq", "recordedAt", "event", "key", "kms", "actor"]);
    });

  clientCommand(ledger.command("verify"))
    .description("recompute the hash chain; names the first bad entry")
    .action(async (_options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const result = await client.request<{
        ok: boolean;
        entries?: number;
        head?: string;
        firstBadSeq?: number;
      }>("GET", "/v1/ledger/verify");
      if (flags.json) printJson(result);
      else if (result.ok)
        process.stdout.write(`ledger ok: ${result.entries} entries, head ${result.head ?? "-"}\n`);
      else process.stdout.write(`ledger BROKEN at entry ${result.firstBadSeq}\n`);
      if (!result.ok) process.exitCode = 1;
    });

  clientCommand(program.command("queues"))
    .description("job counts per queue and state; per destination, slots in use and rate-limit tokens left")
    .action(async (_options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const stats = await client.request<{
        queues: Record<string, Record<string, number>>;
        destinations: Record<string, { slotsInUse: number; buckets: Record<string, number> }>;
      }>("GET", "/v1/queues");
      if (flags.json) return printJson(stats);
      const states = [...new Set(Object.values(stats.queues).flatMap((counts) => Object.keys(counts)))];
      printTable(
        Object.entries(stats.queues).map(([queue, counts]) => ({ queue, ...counts })),
        ["queue", ...states],
      );
      process.stdout.write("\n");
      printTable(
        Object.entries(stats.destinations).map(([kms, d]) => ({
          kms,
          slotsInUse: d.slotsInUse,
          ...d.buckets,
        })),
        [
          "kms",
          "slotsInUse",
          ...new Set(Object.values(stats.destinations).flatMap((d) => Object.keys(d.buckets))),
        ],
      );
    });
}

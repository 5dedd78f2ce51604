import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders, reportOperation } from "../client/command-helpers.js";
import { type Page, printFields, printJson, printPage, printTable } from "../client/output.js";
import type { OperationBody } from "../client/wait.js";

const path = (name: string) => `/v1/keys/${encodeURIComponent(name)}`;

/** `keyferry key create|show|list|rotate|update|delete`. */
export function registerKeyCommands(program: Command): void {
  const key = program.command("key").description("keys kept by keyferry");

  clientCommand(key.command("create <name>"))
    .description("create a key (generates version 1)")
    .requiredOption("--type <type>", "aes256-gcm96, rsa-2048|3072|4096, ecdsa-p256|p384|p521")
    .option("--deletion-allowed", "allow deleting the key later")
    .option("--rotation-period <period>", "rotate on a schedule, e.g. 90d")
    .option("--offline-export", "allow offline BYOK export (admin)")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const body = {
        name,
        type: options.type,
        ...(options.deletionAllowed ? { deletionAllowed: true } : {}),
        ...(options.rotationPeriod ? { rotationPeriod: options.rotationPeriod } : {}),
        ...(options.offlineExport ? { offlineExport: true } : {}),
      };
      const accepted = await client.request<OperationBody>(
        "POST",
        "/v1/keys",
        body,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });

  clientCommand(key.command("show <name>"))
    .description("a key's type, versions and destinations")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const found = await client.request<Record<string, unknown>>("GET", path(name));
      if (flags.json) return printJson(found);
      const { versions, distributions, ...fields } = found;
      printFields(fields);
      const versionRows = Object.entries((versions ?? {}) as Record<string, Record<string, unknown>>).map(
        ([version, v]) => ({ version, createdAt: v.createdAt, publicKey: v.publicKey ? "yes" : "-" }),
      );
      process.stdout.write("\n");
      printTable(versionRows, ["version", "createdAt", "publicKey"]);
      process.stdout.write("\n");
      printTable((distributions ?? []) as Array<Record<string, unknown>>, [
        "kms",
        "provider",
        "state",
        "purposes",
        "protection",
        "remoteName",
      ]);
    });

  clientCommand(key.command("list"))
    .description("keys by name, one page (--limit, default 100)")
    .option("--after <name>", "the page after this name")
    .option("--limit <n>", "page size, 1 to 500")
    .action(async (options: { after?: string; limit?: string }, command: Command) => {
      const { client, flags } = await clientOf(command);
      const query = new URLSearchParams(
        Object.entries(options).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      );
      const listed = await client.request<Page>("GET", `/v1/keys${query.size > 0 ? `?${query}` : ""}`);
      if (flags.json) printJson(listed);
      else printPage(listed, ["name", "type", "latestVersion", "minEnabledVersion", "state"]);
    });

  clientCommand(key.command("rotate <name>"))
    .description("new version here and in every destination")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const accepted = await client.request<OperationBody>(
        "POST",
        `${path(name)}/rotate`,
        {},
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });

  clientCommand(key.command("update <name>"))
    .description(
      "change minEnabledVersion, deletionAllowed or rotationPeriod (fanned out to every destination)",
    )
    .option("--min-enabled-version <n>", "disable versions below n", (v) => Number.parseInt(v, 10))
    .option("--deletion-allowed <bool>", "true or false", (v) => v === "true")
    .option("--rotation-period <period>", "e.g. 90d")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const body = {
        ...(options.minEnabledVersion === undefined ? {} : { minEnabledVersion: options.minEnabledVersion }),
        ...(options.deletionAllowed === undefined ? {} : { deletionAllowed: options.deletionAllowed }),
        ...(options.rotationPeriod === undefined ? {} : { rotationPeriod: options.rotationPeriod }),
      };
      const accepted = await client.request<OperationBody>(
        "PATCH",
        path(name),
        body,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });

  clientCommand(key.command("delete <name>"))
    .description("delete a key that allows it and is distributed nowhere")
    .option("--wait", "wait until the operation is done")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, _options, command: Command) => {
      const { client, flags } = await clientOf(command);
      const accepted = await client.request<OperationBody>(
        "DELETE",
        path(name),
        undefined,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });
}

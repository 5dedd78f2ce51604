import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders } from "../client/command-helpers.js";
import { printFields, printJson, printTable } from "../client/output.js";
import { exitCodeOf, type OperationBody, waitForOperation } from "../client/wait.js";

/** What a reconcile's `compare@<kms>` step records (briefs/shared-shapes.md). */
interface CompareResult {
  findings: Array<{
    kind: string;
    key?: string;
    version?: number;
    remoteId?: string;
    message: string;
    healed?: boolean;
  }>;
  counts: Record<string, number>;
  skipped?: Array<{ key: string; reason: string }>;
}

type ReconcileBody = Omit<OperationBody, "steps"> & {
  steps: Array<OperationBody["steps"][number] & { detail?: { result?: unknown } }>;
};

/**
 * `keyferry kms reconcile KMS [--heal] [--wait]`: a drift check of one destination. With `--wait` the
 * findings are printed as a table; the exit code is 3 when `--heal` left some of them unrepaired.
 */
export function registerReconcileCommand(program: Command): void {
  const kms =
    program.commands.find((command) => command.name() === "kms") ??
    program.command("kms").description("destinations");
  clientCommand(kms.command("reconcile <kms>"))
    .description("compare a destination with the ledger; --heal repairs the drift found")
    .option("--heal", "bring the destination back to the ledger's state")
    .option("--wait", "wait until the operation is done and print the findings")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (name: string, options: { heal?: boolean }, command: Command) => {
      const { client, flags } = await clientOf(command);
      const accepted = await client.request<ReconcileBody>(
        "POST",
        `/v1/kms/${encodeURIComponent(name)}/reconcile`,
        { heal: options.heal === true },
        idempotencyHeaders(command),
      );
      if (!flags.wait) {
        if (flags.json) printJson(accepted);
        else process.stdout.write(`operation ${accepted.id} ${accepted.state} (reconcile ${name})\n`);
        return;
      }
      const final = (await waitForOperation(client, accepted.id)) as ReconcileBody;
      const found = compareResultOf(final, name);
      const unhealed =
        options.heal === true ? (found?.findings.filter((f) => f.healed !== true).length ?? 0) : 0;
      process.exitCode = final.state === "succeeded" && unhealed > 0 ? 3 : exitCodeOf(final);
      if (flags.json) {
        printJson({ operation: final, ...(found ? { drift: found } : {}) });
        return;
      }
      printFields({
        operation: final.id,
        state: final.state,
        ...(final.error ? { error: final.error.message } : {}),
        ...(found ? { findings: summary(found) } : {}),
      });
      if (!found) return;
      process.stdout.write("\n");
      printTable(
        found.findings.map((f) => ({
          ...f,
          healed: f.healed === undefined ? undefined : f.healed ? "yes" : "no",
        })),
        ["kind", "key", "version", "remoteId", ...(options.heal ? ["healed"] : []), "message"],
      );
      for (const skip of found.skipped ?? []) process.stdout.write(`skipped ${skip.key}: ${skip.reason}\n`);
    });
}

function compareResultOf(operation: ReconcileBody, kmsName: string): CompareResult | undefined {
  const result = operation.steps.find((step) => step.name === `compare@${kmsName}`)?.detail?.result;
  if (typeof result !== "object" || result === null || !Array.isArray((result as CompareResult).findings)) {
    return undefined;
  }
  return result as CompareResult;
}

function summary(found: CompareResult): string {
  const kinds = Object.entries(found.counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`);
  return `${found.findings.length}${kinds.length > 0 ? ` (${kinds.join(", ")})` : ""}`;
}

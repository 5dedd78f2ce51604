import type { Command } from "commander";
import { clientCommand, clientOf, idempotencyHeaders, reportOperation } from "../client/command-helpers.js";
import type { OperationBody } from "../client/wait.js";

const list = (value: string) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/**
 * `keyferry redistribute --to KMS[,KMS] [--keys a,b | --prefix p | --all] [--from OLD]`: bulk redistribution
 * (disaster recovery). With `--wait`, a progress bar of the children until the run ends; exit code 3 when it
 * ended with failed children (`keyferry ops retry ID` re-runs those).
 */
export function registerRedistributeCommand(program: Command): void {
  clientCommand(program.command("redistribute"))
    .description("copy many keys into one or more destinations (disaster recovery)")
    .requiredOption("--to <kms...>", "destination(s), comma-separated or repeated")
    .option("--keys <names>", "comma-separated key names")
    .option("--prefix <prefix>", "keys whose name starts with this")
    .option("--all", "every key (the default unless --from is given)")
    .option("--from <kms>", "mirror what this (old) destination held: its keys, purposes and protection")
    .option("--purpose <list>", "purposes of every new copy (default: the model copy's, or the key type's)")
    .option("--protection <protection>", "hsm or software (default: the model copy's, or hsm)")
    .option("--wait", "wait until the run is done, showing its progress")
    .option("--idempotency-key <key>", "make retries of this command safe")
    .action(async (options, command: Command) => {
      const chosen = [options.keys, options.prefix, options.all].filter((o) => o !== undefined);
      if (chosen.length > 1) command.error("give at most one of --keys, --prefix and --all", { exitCode: 2 });
      const { client, flags } = await clientOf(command);
      const to = (options.to as string[]).flatMap(list);
      const keys = options.keys
        ? { names: list(options.keys) }
        : options.prefix
          ? { prefix: String(options.prefix) }
          : options.all
            ? { all: true }
            : undefined;
      const body = {
        to,
        ...(keys ? { keys } : {}),
        ...(options.from ? { from: String(options.from) } : {}),
        ...(options.purpose ? { purposes: list(options.purpose) } : {}),
        ...(options.protection ? { protection: String(options.protection) } : {}),
      };
      const accepted = await client.request<OperationBody>(
        "POST",
        "/v1/redistributions",
        body,
        idempotencyHeaders(command),
      );
      await reportOperation(client, flags, accepted);
    });
}

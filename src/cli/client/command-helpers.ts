import type { Command } from "commander";
import { type ApiClient, createApiClient } from "./api-client.js";
import { printFields, printJson } from "./output.js";
import { exitCodeOf, type OperationBody, waitForOperation } from "./wait.js";

export interface GlobalFlags {
  url?: string;
  token?: string;
  json?: boolean;
  wait?: boolean;
}

/** Options every client command takes. */
export function clientCommand(command: Command): Command {
  return command.option("--json", "print JSON for machines");
}

export async function clientOf(command: Command): Promise<{ client: ApiClient; flags: GlobalFlags }> {
  const flags = command.optsWithGlobals<GlobalFlags>();
  return { client: await createApiClient({ url: flags.url, token: flags.token }), flags };
}

/**
 * Print an accepted operation (202): its id, or with `--wait` its progress until it is final, and set the
 * exit code from how it ended.
 */
export async function reportOperation(
  client: ApiClient,
  flags: GlobalFlags,
  accepted: OperationBody,
): Promise<void> {
  if (!flags.wait) {
    if (flags.json) printJson(accepted);
    else process.stdout.write(`operation ${accepted.id} ${accepted.state} (${accepted.type})\n`);
    return;
  }
  const final = await waitForOperation(client, accepted.id);
  if (flags.json) printJson(final);
  else {
    printFields({
      operation: final.id,
      type: final.type,
      state: final.state,
      ...(final.error ? { error: final.error.message } : {}),
    });
  }
  process.exitCode = exitCodeOf(final);
}

/** `--idempotency-key` for mutating commands, so that a retried CLI call is not carried out twice. */
export function idempotencyHeaders(command: Command): Record<string, string> {
  const key = command.opts<{ idempotencyKey?: string }>().idempotencyKey;
  return key ? { "idempotency-key": key } : {};
}

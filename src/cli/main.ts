#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import { ApiError } from "./client/api-client.js";
import { registerEmulateCommand } from "./commands/emulate.js";
import { registerKeyCommands } from "./commands/keys.js";
import { registerKmsCommands } from "./commands/kms.js";
import { registerOperationCommands } from "./commands/ops.js";
import { registerReconcileCommand } from "./commands/reconcile.js";
import { registerRedistributeCommand } from "./commands/redistribute.js";
import { registerRootKeyCommands } from "./commands/root-key.js";
import { registerServiceCommands } from "./commands/services.js";
import { registerTokenAndByokCommands } from "./commands/tokens-byok.js";

const program = new Command()
  .name("keyferry")
  .description("your own root of trust for keys, carried into AWS KMS and Azure Key Vault")
  .option("--url <url>", "the keyferry API (default: $KEYFERRY_URL or http://127.0.0.1:8080)")
  .option(
    "--token <token>",
    "bearer token (default: $KEYFERRY_TOKEN, or the dev stack's .keyferry/admin-token)",
  )
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    "after",
    [
      "",
      "Client commands take --json (output for machines); mutating ones take --idempotency-key, and",
      "operations --wait. API reference: <url>/docs (OpenAPI at <url>/docs/json).",
      "",
      "Exit codes:",
      "  0  done",
      "  1  failed: the operation failed or was canceled, the ledger does not verify, any other error",
      "  2  usage or configuration error",
      "  3  done in part: a bulk operation with failed children, a reseal that left entries behind",
      "  4  refused by the API (4xx): token or role, not found, conflict, a broken rule",
      "  5  the API is unreachable or unavailable (5xx; 503: PostgreSQL or Redis down)",
    ].join("\n"),
  );

registerServiceCommands(program);
registerRootKeyCommands(program);
registerEmulateCommand(program);
registerKeyCommands(program);
registerKmsCommands(program);
registerReconcileCommand(program);
registerRedistributeCommand(program);
registerOperationCommands(program);
registerTokenAndByokCommands(program);

/**
 * Exit codes: 0 done, 1 failed, 2 usage or configuration error, 3 done only in part, 4 refused by the API
 * (4xx), 5 the API could not be reached or is unavailable.
 */
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof ConfigError) {
    console.error(error.message);
    process.exitCode = 2;
  } else if (error instanceof ApiError) {
    console.error(`keyferry: ${error.message} (${error.code})`);
    process.exitCode = error.status === 0 || error.status >= 500 ? 5 : 4;
  } else if (error instanceof KeyferryError) {
    console.error(`keyferry: ${error.message} (${error.code})`);
    process.exitCode = 1;
  } else {
    console.error(`keyferry: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

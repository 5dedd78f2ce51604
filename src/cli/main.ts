#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import { registerEmulateCommand } from "./commands/emulate.js";
import { registerRootKeyCommands } from "./commands/root-key.js";
import { registerServiceCommands } from "./commands/services.js";

const program = new Command()
  .name("keyferry")
  .description("your own root of trust for keys, carried into AWS KMS and Azure Key Vault")
  .showHelpAfterError()
  .exitOverride();

registerServiceCommands(program);
registerRootKeyCommands(program);
registerEmulateCommand(program);

/** Exit codes: 0 done, 1 failed, 2 usage or configuration error, 3 done only in part. */
try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof ConfigError) {
    console.error(error.message);
    process.exitCode = 2;
  } else if (error instanceof KeyferryError) {
    console.error(`keyferry: ${error.message} (${error.code})`);
    process.exitCode = 1;
  } else {
    console.error(`keyferry: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

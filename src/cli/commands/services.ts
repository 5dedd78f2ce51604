import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { loadRootKeyRing } from "../../custody/root-keys.js";
import { runMigrations } from "../../db/migrate.js";
import { createLogger, type Logger } from "../../logger.js";
import { startApi, stopOnSignals } from "../../processes/api.js";
import { startDevStack } from "../../processes/dev-stack.js";
import { startWorkerProcess } from "../../processes/worker.js";

/** `keyferry start|api|worker|migrate`: the long-running processes and the schema. */
export function registerServiceCommands(program: Command): void {
  program
    .command("migrate")
    .description("apply database migrations (safe to run from several processes at once)")
    .action(async () => {
      const config = loadConfig();
      await runMigrations(config.databaseUrl);
      console.error("migrations applied");
    });

  program
    .command("api")
    .description("run the HTTP API")
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger({ level: config.logLevel, name: "keyferry-api" });
      await loadRootKeyRing(config);
      const api = await startApi(config, logger);
      stopOnSignals(api.stop, logger, config.worker.shutdownGraceMs);
    });

  program
    .command("worker")
    .description("run a worker: executes operations from the queue, relays the outbox, chains the ledger")
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger({ level: config.logLevel, name: "keyferry-worker" });
      const worker = await startWorkerProcess(config, logger);
      stopOnSignals(worker.stop, logger, config.worker.shutdownGraceMs);
    });

  program
    .command("start")
    .description("all-in-one dev stack: API, worker and both cloud emulators on local PostgreSQL and Redis")
    .option(
      "--dir <path>",
      "where the dev stack keeps its root key, admin token and emulator state",
      ".keyferry",
    )
    .action(async (options: { dir: string }) => {
      let logger: Logger | undefined;
      const stack = await startDevStack({
        dir: options.dir,
        env: process.env,
        logger: (config) => {
          logger = createLogger({ level: config.logLevel, name: "keyferry" });
          return logger;
        },
      });
      if (logger) stopOnSignals(stack.stop, logger, stack.config.worker.shutdownGraceMs);
      process.stderr.write(
        [
          "",
          "keyferry dev stack is running",
          `  API            ${stack.apiUrl}  (docs: ${stack.apiUrl}/docs, health: ${stack.apiUrl}/healthz)`,
          `  admin token    ${stack.adminToken}   (kept in ${options.dir}/admin-token)`,
          `  AWS KMS        ${stack.aws.url}  registered as destination "${stack.destinations.aws}"`,
          `  Azure Key Vault ${stack.azure.url}  registered as destination "${stack.destinations.azure}"`,
          `  root key       ${options.dir}/root-key (dev only: production takes KEYFERRY_ROOT_KEY[_FILE])`,
          "  try:           npm run demo",
          "",
        ].join("\n"),
      );
    });
}

import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { loadRootKeyRing } from "../../custody/root-keys.js";
import { runMigrations } from "../../db/migrate.js";
import { createLogger } from "../../logger.js";
import { startApi, stopOnSignals } from "../../processes/api.js";
import { devEnvironment, ensureDatabase } from "../../processes/dev-defaults.js";

/** `keyferry start|api|migrate`: the long-running processes and the schema. */
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
    .command("start")
    .description(
      "all-in-one dev stack on local PostgreSQL and Redis (makes its own root key and admin token)",
    )
    .option("--dir <path>", "where the dev stack keeps its root key and admin token", ".keyferry")
    .action(async (options: { dir: string }) => {
      const env = await devEnvironment(process.env, options.dir);
      const config = loadConfig(env);
      await ensureDatabase(config.databaseUrl);
      const logger = createLogger({ level: config.logLevel, name: "keyferry" });
      await loadRootKeyRing(config);
      const api = await startApi(config, logger);
      stopOnSignals(api.stop, logger, config.worker.shutdownGraceMs);
      process.stderr.write(
        [
          "",
          "keyferry dev stack is running",
          `  API        ${api.url}  (health: ${api.url}/healthz, readiness: ${api.url}/readyz)`,
          `  admin token  ${config.adminToken ?? "(none)"}   (kept in ${options.dir}/admin-token)`,
          `  root key     ${options.dir}/root-key (dev only: production takes KEYFERRY_ROOT_KEY[_FILE])`,
          "",
        ].join("\n"),
      );
    });
}

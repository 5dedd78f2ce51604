import type { Command } from "commander";
import { loadConfig } from "../../config.js";
import { connectDatabase } from "../../db/client.js";
import { runMigrations } from "../../db/migrate.js";
import { ROLES, type Role } from "../../db/schema/index.js";
import { chainAll } from "../../ledger/chain.js";
import { issueToken } from "../../tokens/issue.js";

/**
 * `keyferry token bootstrap`: the first admin token (or any), written straight to the database with
 * DATABASE_URL, for when no API token exists yet and KEYFERRY_ADMIN_TOKEN is not used.
 */
export function registerTokenBootstrap(token: Command): void {
  token
    .command("bootstrap <name>")
    .description(
      "issue an API token directly in the database (the first admin token); its secret is shown once",
    )
    .option("--role <role>", "admin, operator or auditor", "admin")
    .option("--json", "machine-readable output")
    .action(async (name: string, options: { role: string; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(options.role)) {
        throw new Error(`--role must be one of ${ROLES.join(", ")}`);
      }
      const config = loadConfig();
      await runMigrations(config.databaseUrl);
      const database = connectDatabase(config.databaseUrl, { max: 1, applicationName: "keyferry-bootstrap" });
      try {
        const { row, secret } = await database.db.transaction((tx) =>
          issueToken(tx, {
            name,
            role: options.role as Role,
            createdBy: null,
            actor: "keyferry bootstrap-token",
          }),
        );
        await chainAll(database.db);
        if (options.json)
          process.stdout.write(`${JSON.stringify({ id: row.id, name, role: row.role, secret })}\n`);
        else
          process.stdout.write(`token ${row.id} (${row.role}): ${secret}\nkeep it now: it is not stored\n`);
      } finally {
        await database.close();
      }
    });
}

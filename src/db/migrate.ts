import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

/** `migrations/` at the package root, from `src/db/` (tsx) and from `dist/db/` (built) alike. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Any constant shared by every keyferry process; it names the advisory lock that serializes migrations. */
const MIGRATION_LOCK_ID = 0x6b66_6d69; // "kfmi"

/**
 * Apply pending migrations. Safe when several processes start at once: they queue on a session-level
 * advisory lock, and each one that gets it finds the work already done by the one before.
 */
export async function runMigrations(
  databaseUrl: string,
  migrationsFolder = MIGRATIONS_FOLDER,
): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "keyferry-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
    try {
      await migrate(drizzle(client), { migrationsFolder, migrationsSchema: "drizzle" });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID]);
    }
  } finally {
    await client.end();
  }
}

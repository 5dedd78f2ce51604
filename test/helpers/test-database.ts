import { randomBytes } from "node:crypto";
import pg from "pg";
import { connectDatabase, type DatabaseHandle } from "../../src/db/client.js";
import { runMigrations } from "../../src/db/migrate.js";
import { databaseUrlFor, TEST_ADMIN_DATABASE_URL, TEST_PREFIX } from "./services.js";

export interface TestDatabase extends DatabaseHandle {
  name: string;
  url: string;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database of its own (migrated unless told otherwise). */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `${TEST_PREFIX}${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrlFor(name);
  if (options.migrate ?? true) await runMigrations(url);
  const handle = connectDatabase(url, { max: 5, applicationName: "keyferry-test" });
  return {
    ...handle,
    name,
    url,
    close: async () => {
      await handle.close();
      if (process.env.KEEP_TEST_DATABASES) return;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

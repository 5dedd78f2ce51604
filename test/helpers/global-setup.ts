import { Redis } from "ioredis";
import pg from "pg";
import { TEST_ADMIN_DATABASE_URL, TEST_PREFIX, TEST_REDIS_URL } from "./services.js";

/**
 * Fail fast with a clear message when PostgreSQL or Redis is not there, and remove test databases left by
 * runs that were killed (only those nobody is connected to, so a parallel run is left alone).
 */
export default async function setup(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `tests need PostgreSQL at ${TEST_ADMIN_DATABASE_URL} (set TEST_DATABASE_URL): ${String(error)}`,
    );
  }
  try {
    const stale = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database d
        WHERE datname LIKE $1 || '%'
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
      [TEST_PREFIX],
    );
    for (const { datname } of stale.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}"`);
  } finally {
    await client.end();
  }

  const redis = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`tests need Redis at ${TEST_REDIS_URL} (set TEST_REDIS_URL): ${String(error)}`);
  } finally {
    redis.disconnect();
  }
}

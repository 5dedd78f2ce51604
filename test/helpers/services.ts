/** Where the tests find the real local services; override with the same variables CI and users set. */
export const TEST_ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Every test database and Redis prefix starts with this, so leftovers can be found and removed. */
export const TEST_PREFIX = "kf_test_";

export function databaseUrlFor(database: string): string {
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

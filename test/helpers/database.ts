import { afterAll, beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "./test-database.js";

export { createTestDatabase, type TestDatabase };

/**
 * One database for the whole test file: created before its first test, dropped after its last
 * (kept when KEEP_TEST_DATABASES is set, to look at after a failure).
 */
export function useTestDatabase(options: { migrate?: boolean } = {}): () => TestDatabase {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(options);
  });
  afterAll(async () => {
    await database?.close();
  });
  return () => {
    if (!database) throw new Error("the test database is not ready yet (use it inside a test or hook)");
    return database;
  };
}

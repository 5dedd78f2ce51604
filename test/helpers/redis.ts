import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { TEST_PREFIX, TEST_REDIS_URL } from "./services.js";

export interface TestRedis {
  redis: Redis;
  /** A prefix of this test file's own, hash-tagged as keyferry's production prefix is. */
  prefix: string;
  /** Every Redis key under the prefix (for tests that look at what reached Redis). */
  keys(): Promise<string[]>;
}

async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

/** A Redis connection and a prefix of the test file's own; everything under it is removed afterwards. */
export function useTestRedis(): () => TestRedis {
  let state: TestRedis | undefined;
  beforeAll(async () => {
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const prefix = `{${TEST_PREFIX}${randomBytes(6).toString("hex")}}`;
    state = { redis, prefix, keys: () => scanKeys(redis, prefix) };
  });
  afterAll(async () => {
    if (!state) return;
    const keys = await state.keys();
    if (keys.length > 0) await state.redis.del(...keys);
    await state.redis.quit();
  });
  return () => {
    if (!state) throw new Error("test Redis is not ready yet (use it inside a test or hook)");
    return state;
  };
}

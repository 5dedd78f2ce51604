import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { createLogger } from "../../src/logger.js";
import { connectRedis, evictionCheck } from "../../src/redis.js";
import { useTestDatabase } from "../helpers/database.js";
import { startPrivateRedis } from "../helpers/private-redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";

const database = useTestDatabase();
const logger = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));
const redis = connectRedis(TEST_REDIS_URL, "keyferry-test");
// Nothing listens on port 1: this connection never comes up, like a Redis that is down.
const downRedis = connectRedis("redis://127.0.0.1:1", "keyferry-test-down");
downRedis.on("error", () => {});

afterAll(() => {
  redis.disconnect();
  downRedis.disconnect();
});

describe("health and readiness probes", () => {
  it("healthz answers while the process lives; readyz when PostgreSQL and Redis answer", async () => {
    const app = buildApp({ db: database().db, redis, logger });
    expect((await app.inject("/healthz")).json()).toEqual({ ok: true });
    const ready = await app.inject("/readyz");
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ok: true, postgres: "ok", redis: "ok" });
    await app.close();
  });

  it("readyz is 503 with a stable error code when Redis is down", async () => {
    const app = buildApp({ db: database().db, redis: downRedis, logger });
    const ready = await Promise.race([
      app.inject("/readyz"),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("readyz hung")), 20_000)),
    ]);
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({
      error: {
        code: "backing_service_down",
        message: "a backing service is not answering",
        details: { postgres: "ok", redis: "down" },
      },
    });
    await app.close();
  });

  it("readyz is 503 redis_evicts when Redis may evict keys (strict), 200 with a warning when told to warn", async () => {
    // A Redis of the test's own: the shared one must keep noeviction.
    const own = await startPrivateRedis();
    const client = connectRedis(own.url, "keyferry-test-evicts");
    try {
      await client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
      const warned: string[] = [];
      const strict = buildApp({
        db: database().db,
        redis: client,
        logger,
        eviction: evictionCheck(client, "strict", (policy, mode) => warned.push(`${mode} ${policy}`)),
      });
      const refused = await strict.inject("/readyz");
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toEqual({
        error: {
          code: "redis_evicts",
          message: "redis maxmemory-policy is allkeys-lru; keyferry needs noeviction",
          details: { postgres: "ok", redis: "evicts" },
        },
      });
      await strict.close();

      const lenient = buildApp({
        db: database().db,
        redis: client,
        logger,
        eviction: evictionCheck(client, "warn", (policy, mode) => warned.push(`${mode} ${policy}`)),
      });
      expect((await lenient.inject("/readyz")).statusCode).toBe(200);
      await lenient.close();
      expect(warned).toEqual(["strict allkeys-lru", "warn allkeys-lru"]);

      // Fixed (and read again once the refresh interval passed): ready.
      await client.call("CONFIG", "SET", "maxmemory-policy", "noeviction");
      const fixed = buildApp({
        db: database().db,
        redis: client,
        logger,
        eviction: evictionCheck(client, "strict", () => {}),
      });
      expect((await fixed.inject("/readyz")).statusCode).toBe(200);
      await fixed.close();
    } finally {
      client.disconnect();
      await own.stop();
    }
  });
});

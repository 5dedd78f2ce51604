import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { generateRootKey, parseRootKey } from "../../src/crypto/root-key.js";
import { connectDatabase } from "../../src/db/client.js";
import { createLogger } from "../../src/logger.js";
import { createProviderRegistry } from "../../src/providers/registry.js";
import type { Redis } from "../../src/redis.js";
import { ADMIN_TOKEN } from "./harness.js";

describe("backing services down", () => {
  it("answers 503 backing_service_down, not 500, when PostgreSQL does not answer", async () => {
    const logger = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));
    // Nothing listens on port 1.
    const database = connectDatabase("postgres://postgres@127.0.0.1:1/none", { max: 1 });
    const root = parseRootKey(generateRootKey());
    const providers = createProviderRegistry(logger);
    const app = buildApp({
      db: database.db,
      redis: {} as Redis,
      logger,
      api: {
        ring: { current: root, all: [root] },
        providers,
        adminToken: ADMIN_TOKEN,
        queueStats: async () => {
          throw new Error("redis is away");
        },
      },
    });
    const keysAnswer = await app.inject({ url: "/v1/keys", headers: { authorization: "Bearer kf_abc" } });
    expect(keysAnswer.statusCode).toBe(503);
    expect(keysAnswer.json().error.code).toBe("backing_service_down");
    const queues = await app.inject({
      url: "/v1/queues",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(queues.statusCode).toBe(503);
    await app.close();
    providers.close();
    await database.close();
  });
});

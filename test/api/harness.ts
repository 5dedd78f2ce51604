import { Writable } from "node:stream";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../src/api/app.js";
import { newTokenSecret } from "../../src/api/auth.js";
import { generateRootKey, parseRootKey } from "../../src/crypto/root-key.js";
import type { RootKeyRing } from "../../src/custody/root-keys.js";
import type { Database } from "../../src/db/client.js";
import { apiTokens, type Role } from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { createProviderRegistry } from "../../src/providers/registry.js";
import type { QueueStats } from "../../src/queue/queue-stats.js";
import type { Redis } from "../../src/redis.js";

/**
 * The API over a test database, called with `app.inject`: no Redis (the probes are not under test here),
 * no worker, a fake `queueStats`. Every answer's raw payload is kept so a test can scan all of them.
 */

export const ADMIN_TOKEN = "bootstrap-admin-token-for-tests-0123456789";

const silent = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));

export interface TestApi {
  app: FastifyInstance;
  ring: RootKeyRing;
  tokens: Record<Role, string>;
  /** Every answer body seen, for secret scans. */
  answers: string[];
  call(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string },
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export const FAKE_QUEUE_STATS: QueueStats = {
  queues: { operations: { waiting: 1, active: 0, delayed: 0, completed: 3, failed: 0 } },
  destinations: { "aws-dev": { slotsInUse: 0, buckets: { cryptographic: 99 } } },
};

export async function createTestApi(db: Database): Promise<TestApi> {
  const root = parseRootKey(generateRootKey());
  const ring: RootKeyRing = { current: root, all: [root] };
  const providers = createProviderRegistry(silent);
  const app = buildApp({
    db,
    // The probes are not exercised here; nothing else touches Redis.
    redis: {} as Redis,
    logger: silent,
    api: { ring, providers, adminToken: ADMIN_TOKEN, queueStats: async () => FAKE_QUEUE_STATS },
  });
  await app.ready();
  const tokens = { admin: "", operator: "", auditor: "" } as Record<Role, string>;
  for (const role of ["admin", "operator", "auditor"] as const) {
    const made = newTokenSecret();
    await db
      .insert(apiTokens)
      .values({ name: `test-${role}`, role, secretHash: made.hash, prefix: made.prefix });
    tokens[role] = made.secret;
  }
  const answers: string[] = [];
  return {
    app,
    ring,
    tokens,
    answers,
    async call(method, url, options = {}) {
      const token = options.token === undefined ? tokens.admin : options.token;
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
      if (payload !== undefined) headers["content-type"] = "application/json";
      const response = await app.inject({
        method,
        url,
        headers,
        ...(payload !== undefined ? { payload } : {}),
      });
      answers.push(response.payload, JSON.stringify(response.headers));
      return response;
    },
    async close() {
      await app.close();
      providers.close();
    },
  };
}

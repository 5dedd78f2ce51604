import { sql } from "drizzle-orm";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface AppDependencies {
  db: Database;
  redis: Redis;
  logger: Logger;
}

/** The HTTP application. Routes arrive with the operations engine; this is its skeleton and probes. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger });

  app.get("/healthz", async () => ({ ok: true }));

  app.get("/readyz", async (_request, reply) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.db.execute(sql`SELECT 1`), PROBE_TIMEOUT_MS),
      // Commands wait for a reconnect rather than fail (BullMQ's setting), so ask only a ready connection.
      deps.redis.status === "ready" ? withTimeout(deps.redis.ping(), PROBE_TIMEOUT_MS) : Promise.reject(),
    ]);
    const [postgres, redis] = checks.map((c) => (c.status === "fulfilled" ? "ok" : "down"));
    if (postgres === "ok" && redis === "ok") return { ok: true, postgres, redis };
    return reply.code(503).send({
      error: {
        code: "backing_service_down",
        message: "a backing service is not answering",
        details: { postgres, redis },
      },
    });
  });

  return app;
}

import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Database } from "../../db/client.js";
import type { EvictionCheck, Redis } from "../../redis.js";
import { publicDocs } from "../docs.js";
import { answer, errorSchema } from "../schemas.js";

/**
 * `GET /healthz` (the process lives) and `GET /readyz` (PostgreSQL and Redis answer). Public, and served
 * also by a process without the `/v1` API, so this plugin brings its own zod compilers.
 */

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const readySchema = z.object({ ok: z.literal(true), postgres: z.literal("ok"), redis: z.literal("ok") });

export function registerProbeRoutes(
  app: FastifyInstance,
  deps: { db: Database; redis: Redis; eviction?: EvictionCheck },
): void {
  const probes = app.withTypeProvider<ZodTypeProvider>();
  probes.setValidatorCompiler(validatorCompiler);
  probes.setSerializerCompiler(serializerCompiler);

  probes.get(
    "/healthz",
    {
      schema: {
        ...publicDocs("probes", "Liveness: the process is up (checks nothing else)"),
        response: { 200: answer("the process is up", z.object({ ok: z.literal(true) })) },
      },
    },
    async () => ({ ok: true as const }),
  );

  probes.get(
    "/readyz",
    {
      schema: {
        ...publicDocs(
          "probes",
          "Readiness: PostgreSQL and Redis answer within 2 s, and Redis does not evict (maxmemory-policy noeviction)",
        ),
        response: {
          200: answer("ready to serve", readySchema),
          503: answer(
            "PostgreSQL or Redis is not answering (backing_service_down; details say which), or Redis may evict " +
              "keys (redis_evicts; details name the policy)",
            errorSchema,
          ),
        },
      },
    },
    async (_request, reply) => {
      const checks = await Promise.allSettled([
        withTimeout(deps.db.execute(sql`SELECT 1`), PROBE_TIMEOUT_MS),
        // Commands wait for a reconnect rather than fail (BullMQ's setting), so ask only a ready connection.
        deps.redis.status === "ready" ? withTimeout(deps.redis.ping(), PROBE_TIMEOUT_MS) : Promise.reject(),
      ]);
      const [postgres, redis] = checks.map((c) =>
        c.status === "fulfilled" ? ("ok" as const) : ("down" as const),
      );
      if (postgres === "ok" && redis === "ok") {
        const problem = await withTimeout(
          deps.eviction?.problem() ?? Promise.resolve(undefined),
          PROBE_TIMEOUT_MS,
        ).catch(() => undefined);
        if (problem === undefined) return { ok: true as const, postgres, redis };
        return reply.code(503).send({
          error: { code: "redis_evicts", message: problem, details: { postgres, redis: "evicts" } },
        });
      }
      return reply.code(503).send({
        error: {
          code: "backing_service_down",
          message: "a backing service is not answering",
          details: { postgres, redis },
        },
      });
    },
  );
}

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { sql } from "drizzle-orm";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import { type ApiApp, type ApiContext, installAuth } from "./context.js";
import { installErrorHandlers } from "./errors.js";
import { registerRoutes } from "./routes/index.js";

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
  /** The `/v1` API and its OpenAPI document; without it only the probes are served. */
  api?: Omit<ApiContext, "db">;
}

/** The HTTP application: probes, the `/v1` API (routes/index.ts lists every path) and `/docs`. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: 256 * 1024 });
  if (deps.api) installApi(app, { ...deps.api, db: deps.db });

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

function installApi(app: FastifyInstance, ctx: ApiContext): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  installAuth(app, ctx);
  app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "keyferry",
        version: "1",
        description:
          "Bring-your-own-key custody and distribution to Azure Key Vault and AWS KMS. Errors are " +
          "`{error:{code,message,details?}}`; mutating requests accept `Idempotency-Key`.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "kf_... API token" } },
      },
    },
    transform: jsonSchemaTransform,
  });
  app.register(swaggerUi, { routePrefix: "/docs" });
  app.register(async (api) => registerRoutes(api as unknown as ApiApp, ctx));
}

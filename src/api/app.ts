import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import { registerMetricsRoute } from "../metrics/route.js";
import type { EvictionCheck, Redis } from "../redis.js";
import { type ApiApp, type ApiContext, installAuth } from "./context.js";
import { finishDocument, OPENAPI_FRAME } from "./docs.js";
import { installErrorHandlers } from "./errors.js";
import { registerRoutes } from "./routes/index.js";
import { registerProbeRoutes } from "./routes/probes.js";
import { installDashboard } from "./ui/dashboard.js";

export interface AppDependencies {
  db: Database;
  redis: Redis;
  logger: Logger;
  /** Redis's eviction policy, checked by `/readyz` (src/redis.ts). */
  eviction?: EvictionCheck;
  /** The `/v1` API and its OpenAPI document; without it only the probes are served. */
  api?: Omit<ApiContext, "db">;
  /** Sees every route as it is added, before anything else (the OpenAPI completeness test). */
  onRoute?: (route: RouteOptions) => void;
}

/** The HTTP application: probes, the `/v1` API (routes/index.ts lists every path) and `/docs`. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: 256 * 1024 });
  if (deps.onRoute) app.addHook("onRoute", deps.onRoute);
  if (deps.api) installApi(app, { ...deps.api, db: deps.db });
  // A plugin, so that it loads after @fastify/swagger, whose onRoute hook puts it in the document.
  app.register(async (probes) => registerProbeRoutes(probes, deps));

  return app;
}

function installApi(app: FastifyInstance, ctx: ApiContext): void {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  installAuth(app, ctx);
  app.register(swagger, {
    openapi: OPENAPI_FRAME,
    transform: jsonSchemaTransform,
    transformObject: finishDocument,
  });
  app.register(swaggerUi, { routePrefix: "/docs" });
  app.register(async (api) => registerRoutes(api as unknown as ApiApp, ctx));
  const { metrics } = ctx;
  if (metrics) app.register(async (scope) => registerMetricsRoute(scope, metrics));
  installDashboard(app, ctx);
}

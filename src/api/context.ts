import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Queue } from "bullmq";
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { RootKeyRing } from "../custody/root-keys.js";
import type { Database } from "../db/client.js";
import type { MetricsEndpoint } from "../metrics/route.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { QueueStats } from "../queue/queue-stats.js";
import { unauthorized } from "./api-error.js";
import { type Access, authenticate, authorize, type Caller } from "./auth.js";

/** What the routes need, made by the composition root (src/processes/api.ts) and passed in. */
export interface ApiContext {
  db: Database;
  ring: RootKeyRing;
  /** Only `checkSupport` is used at intake: no cloud is called from the API. */
  providers: Pick<ProviderRegistry, "get">;
  adminToken: string | undefined;
  queueStats: () => Promise<QueueStats>;
  /** Tells the outbox relay that rows are waiting (optional: the relay polls anyway). */
  nudge?: () => void;
  /** The BullMQ queues the dashboard's job view shows (absent in harnesses without Redis: no job view). */
  boardQueues?: readonly Queue[];
  /** `GET /metrics` (src/metrics/route.ts); absent: not served. */
  metrics?: MetricsEndpoint;
}

export type ApiApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; absent: public (probes, docs). */
    access?: Access;
    /** Words for the 403 message: "a auditor token may not <what>". */
    what?: string;
  }
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/** The authenticated caller (set by the onRequest hook of every protected route). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw unauthorized();
  return request.caller;
}

export function installAuth(app: FastifyInstance, ctx: ApiContext): void {
  app.decorateRequest("caller", null);
  app.addHook("onRequest", async (request) => {
    const { access, what } = request.routeOptions.config;
    if (access === undefined) return;
    request.caller = await authenticate(ctx.db, request, ctx.adminToken);
    authorize(request.caller, access, what ?? `${request.method} ${request.routeOptions.url ?? ""}`);
  });
}

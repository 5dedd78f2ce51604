import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { docs, publicDocs } from "../api/docs.js";
import { commonErrors } from "../api/schemas.js";
import { METRICS_CONTENT_TYPE, type Metrics } from "./metrics.js";

/** What `GET /metrics` of the API serves, and to whom. */
export interface MetricsEndpoint {
  metrics: Pick<Metrics, "registry">;
  /** KEYFERRY_METRICS_PUBLIC: no token needed; else any role's bearer token (auditor and up). */
  public: boolean;
}

const DESCRIPTION =
  "Prometheus text exposition format (`text/plain; version=0.0.4`): this process's metrics plus the " +
  "figures read from PostgreSQL and Redis at scrape time (queue depth, operations, outbox and ledger " +
  "backlogs, drift findings). Public when KEYFERRY_METRICS_PUBLIC=true, else any bearer token (auditor and up). " +
  "Worker processes serve their own on KEYFERRY_WORKER_METRICS_PORT.";

/** `GET /metrics`, outside `/v1` like the probes. */
export function registerMetricsRoute(app: FastifyInstance, endpoint: MetricsEndpoint): void {
  app.get(
    "/metrics",
    {
      config: endpoint.public ? {} : { access: "read", what: "read metrics" },
      schema: {
        ...(endpoint.public
          ? publicDocs("probes", "Prometheus metrics", DESCRIPTION)
          : docs("probes", "Prometheus metrics", DESCRIPTION)),
        response: {
          200: {
            description: "metrics in the Prometheus text format",
            content: { "text/plain": { schema: z.string() } },
          },
          ...(endpoint.public
            ? {}
            : { 401: commonErrors[401], 403: commonErrors[403], 503: commonErrors[503] }),
        },
      },
    },
    async (_request, reply) => {
      const text = await endpoint.metrics.registry.metrics();
      return reply.type(METRICS_CONTENT_TYPE).send(text);
    },
  );
}

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyRequest } from "fastify";
import { authenticate, authorize } from "../api/auth.js";
import type { Queryable } from "../db/client.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import type { Logger } from "../logger.js";
import { METRICS_CONTENT_TYPE, type Metrics } from "./metrics.js";

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: Pick<Metrics, "registry">;
  /**
   * Who may scrape: `public`, or bearer tokens of any role (auditor and up), checked as the API checks them
   * (KEYFERRY_METRICS_PUBLIC decides for the API and the workers alike).
   */
  access: { public: true } | { public: false; db: Queryable; adminToken: string | undefined };
  logger: Logger;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` of a worker process (KEYFERRY_WORKER_METRICS_PORT): its provider calls, throttling, limiter
 * waits, operation runs and chainer passes, which live in that process only. Nothing else is served.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { access, metrics, logger } = options;

  const allowed = async (request: IncomingMessage) => {
    if (access.public) return;
    // authenticate reads only the Authorization header of the request it is given.
    const caller = await authenticate(
      access.db,
      { headers: request.headers } as FastifyRequest,
      access.adminToken,
    );
    authorize(caller, "read", "read metrics");
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? "/", "http://metrics").pathname;
    if (path !== "/metrics") return answer(response, 404, error("not_found", "only /metrics is served here"));
    if (request.method !== "GET" && request.method !== "HEAD") {
      return answer(response, 405, error("method_not_allowed", "use GET"));
    }
    try {
      await allowed(request);
    } catch (err) {
      if (err instanceof KeyferryError && (err.status === 401 || err.status === 403)) {
        return answer(response, err.status, error(err.code, err.message));
      }
      throw err;
    }
    const text = await metrics.registry.metrics();
    response.writeHead(200, { "content-type": METRICS_CONTENT_TYPE });
    response.end(request.method === "HEAD" ? undefined : text);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => {
      logger.warn(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        "metrics scrape failed",
      );
      if (!response.headersSent)
        answer(response, 503, error("backing_service_down", "metrics are not available"));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function error(code: string, message: string) {
  return { error: { code, message } };
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify(body));
}

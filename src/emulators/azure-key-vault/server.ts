import { randomUUID } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { challengeAuth } from "./challenge-auth.js";
import type { VaultContext } from "./context.js";
import { badParameter, internalServerError, KeyVaultError, routeNotFound } from "./errors.js";
import { requireApiVersion } from "./request.js";
import { registerRoutes } from "./routes/index.js";

/** The HTTP server: challenge auth first, then the routes; every error leaves in Key Vault's shape. */
export function buildServer(context: VaultContext): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });

  app.addHook("onRequest", async (_request, reply) => {
    // Real answers carry a request id; clients log it, and it costs nothing.
    reply.header("x-ms-request-id", randomUUID());
  });
  app.addHook("onRequest", challengeAuth(context.managedHsm));
  // Every operation needs it; checked once here rather than in each route.
  app.addHook("preValidation", async (request) => {
    requireApiVersion(request.url);
  });

  app.setErrorHandler((error: FastifyError | KeyVaultError, _request, reply) => {
    const answer = toKeyVaultError(error);
    if (answer.status >= 500 && !(error instanceof KeyVaultError)) {
      // Name and message only: request bodies (key material) never reach the log.
      context.logger?.error(
        { err: { name: error.name, message: error.message } },
        "azure key vault emulator failure",
      );
    }
    if (answer.retryAfterSeconds !== undefined) reply.header("retry-after", String(answer.retryAfterSeconds));
    return reply.code(answer.status).send(answer.toBody());
  });
  app.setNotFoundHandler((_request, reply) => {
    const answer = routeNotFound();
    return reply.code(answer.status).send(answer.toBody());
  });

  registerRoutes(app, context);
  return app;
}

function toKeyVaultError(error: FastifyError | KeyVaultError): KeyVaultError {
  if (error instanceof KeyVaultError) return error;
  // Fastify's own 4xx: malformed JSON, an empty JSON body, a body over the limit, an unknown media type.
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const answer = badParameter("The request body is not valid JSON or is too large.");
    return status === 400 ? answer : new KeyVaultError(status, answer.code, answer.message);
  }
  return internalServerError();
}

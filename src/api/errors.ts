import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { isBackingServiceDown, isDatabaseTimeout, sqlState } from "../db/errors.js";
import { KeyferryError } from "../errors/keyferry-error.js";

export { isBackingServiceDown };

/**
 * The one error handler of the API: every failure becomes `{error:{code,message,details?}}` with a stable
 * code. Messages come from our own errors (which never carry secrets) or are fixed text; a request body is
 * never echoed, only the paths of the fields that broke the schema.
 */

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

const body = (code: string, message: string, details?: Record<string, unknown>): ErrorBody => ({
  error: { code, message, ...(details ? { details } : {}) },
});

function validationDetails(error: FastifyError): Record<string, unknown> {
  const where = error.validationContext ?? "body";
  const issues = (error.validation ?? []).map((issue) => {
    const segments = issue.instancePath.split("/").filter((p) => p.length > 0);
    const keys = (issue.params as { keys?: unknown }).keys;
    const unknown = Array.isArray(keys) ? keys.map(String) : undefined;
    return {
      in: where,
      path: segments.join("."),
      code: issue.keyword,
      // Zod's messages name the rule, never the value given (zod 4 does not include inputs by default).
      message: unknown ? `unknown field(s): ${unknown.join(", ")}` : (issue.message ?? "invalid"),
      ...(unknown ? { fields: unknown.map((k) => [...segments, k].join(".")) } : {}),
    };
  });
  return { issues };
}

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): FastifyReply {
  return reply
    .code(status)
    .type("application/json")
    .send(body(code, message, details));
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, 404, "not_found", `no route ${request.method} ${request.url.split("?")[0]}`),
  );

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      return sendError(
        reply,
        400,
        "invalid_request",
        "the request does not match the schema",
        validationDetails(error),
      );
    }
    if (error instanceof KeyferryError) {
      if (error.status >= 500) request.log.error({ err: error }, "request failed");
      const message = error.status >= 500 && error.status !== 503 ? "internal error" : error.message;
      return sendError(reply, error.status, error.code, message, error.details);
    }
    if (isBackingServiceDown(error)) {
      request.log.warn({ err: { message: error.message, code: error.code } }, "backing service down");
      return sendError(reply, 503, "backing_service_down", "a backing service is not answering");
    }
    if (isDatabaseTimeout(error)) {
      request.log.warn({ err: { message: error.message, code: error.code } }, "database timeout");
      reply.header("Retry-After", "1");
      return sendError(reply, 503, "backing_service_busy", "the database did not answer in time; try again");
    }
    if (isResponseSerializationError(error)) {
      request.log.error({ err: { message: error.message } }, "answer does not match its schema");
      return sendError(reply, 500, "internal_error", "internal error");
    }
    const state = sqlState(error);
    if (state === "23505")
      return sendError(reply, 409, "conflict", "a concurrent request changed the same object");
    if (state === "40001" || state === "40P01") {
      return sendError(reply, 409, "conflict", "a concurrent request conflicted; try again");
    }
    const status = typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status === 413) return sendError(reply, 413, "payload_too_large", "the request body is too large");
    if (status === 415) return sendError(reply, 415, "unsupported_media_type", "send application/json");
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (malformed JSON, empty body): a JSON parser's message may quote the
      // body, which may hold a secret, so only the error's code goes out.
      return sendError(reply, 400, "invalid_request", "the request is malformed (not valid JSON?)", {
        reason: error.code ?? "malformed",
      });
    }
    request.log.error({ err: error }, "unexpected error");
    return sendError(reply, 500, "internal_error", "internal error");
  });
}

import type { KeyPairKeyObjectResult } from "node:crypto";
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "../../logger.js";
import type { FaultInjector } from "../common/faults.js";
import type { QuotaLimiter } from "../common/quota.js";
import type { OperationContext } from "./context.js";
import { internalError, KmsError, serialization, throttled, unknownOperation } from "./errors.js";
import { applyTime } from "./materials.js";
import { OPERATIONS } from "./operations.js";
import { regionOf } from "./request-scope.js";
import type { KmsState } from "./state.js";

/**
 * The AWS JSON 1.1 endpoint: `POST /` with `X-Amz-Target: TrentService.<Operation>` and a JSON body of
 * content type `application/x-amz-json-1.1`. Each request: fault injection first (a throttle or a transient
 * error before anything happens), then the passage of time (expired material and keys), the operation's
 * request quota, the operation, saving the state, and finally fault injection after commit (an error
 * answer, or a connection closed without answer, although the change was made).
 */

const CONTENT_TYPE = "application/x-amz-json-1.1";
const TARGET_PREFIX = "TrentService.";

/** What the error handler may log about a request: names and ids only. */
const requestLog = new WeakMap<FastifyRequest, { op: string; readonly keyId: string | undefined }>();

export interface ServerDependencies {
  /** The current state; a getter, because loading the state file replaces it. */
  state: () => KmsState;
  faults: FaultInjector;
  quota: QuotaLimiter;
  now: () => number;
  wrappingKeyPair: (bits: number) => Promise<KeyPairKeyObjectResult>;
  accountId: string;
  logger: Logger | undefined;
  /** Save the state file (a no-op without one); resolves when the change is on disk. */
  persist: () => Promise<void>;
}

export function buildServer(dependencies: ServerDependencies): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  // The SDK always sends its protocol's content type; plain JSON is accepted for curl users.
  app.addContentTypeParser(
    [CONTENT_TYPE, "application/json"],
    { parseAs: "string" },
    (_request, body, done) => {
      try {
        done(null, String(body).trim() === "" ? {} : JSON.parse(String(body)));
      } catch {
        done(serialization("The request body is not valid JSON."), undefined);
      }
    },
  );
  app.setErrorHandler((error, request, reply) => sendError(dependencies, request, reply, error));
  app.post("/", (request, reply) => handle(dependencies, request, reply));
  return app;
}

async function handle(dependencies: ServerDependencies, request: FastifyRequest, reply: FastifyReply) {
  const name = operationName(request.headers["x-amz-target"]);
  let keyId: string | undefined;
  requestLog.set(request, {
    op: name,
    get keyId() {
      return keyId;
    },
  });
  // An own-property lookup: a target such as "TrentService.constructor" must not reach Object's prototype.
  const operation = Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name] : undefined;
  if (!operation) {
    throw unknownOperation(
      name === ""
        ? "The X-Amz-Target header must name a TrentService operation."
        : `${name} is not implemented by this emulator.`,
    );
  }
  const region = regionOf(request.headers.authorization);
  const before = await dependencies.faults.before(name);
  if (before.kind === "throttle") throw throttled(before.retryAfterMs);
  if (before.kind === "error") throw internalError();

  const state = dependencies.state();
  const now = dependencies.now();
  if (applyTime(state, now)) await dependencies.persist();
  const context: OperationContext = {
    state,
    region,
    accountId: dependencies.accountId,
    now,
    takeQuota: (bucket) => takeQuota(dependencies.quota, bucket),
    wrappingKeyPair: dependencies.wrappingKeyPair,
    noteKey: (id) => {
      keyId = id;
    },
  };
  if (operation.quota === "own") takeQuota(dependencies.quota, name);

  const output = await operation.handler(request.body, context);
  if (operation.mutating) await dependencies.persist();
  dependencies.logger?.debug({ op: name, keyId }, "aws-kms request");

  const after = dependencies.faults.after(name, operation.mutating);
  if (after === "drop") {
    // "Fail after commit": the change is made and saved, the caller never hears of it.
    reply.hijack();
    request.raw.socket.destroy();
    return;
  }
  if (after === "error") throw internalError();
  return reply
    .code(200)
    .header("content-type", CONTENT_TYPE)
    .header("x-amzn-requestid", randomUUID())
    .send(JSON.stringify(output));
}

function operationName(target: string | string[] | undefined): string {
  const value = Array.isArray(target) ? target[0] : target;
  return value?.startsWith(TARGET_PREFIX) ? value.slice(TARGET_PREFIX.length) : "";
}

function takeQuota(quota: QuotaLimiter, bucket: string): void {
  const decision = quota.take(bucket);
  if (!decision.allowed) throw throttled(decision.retryAfterMs);
}

function sendError(
  dependencies: ServerDependencies,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
) {
  const known = toKmsError(error);
  const log = requestLog.get(request);
  if (known.status >= 500 && !(error instanceof KmsError)) {
    // An emulator bug, not an answer the service would give: worth a warning, with names only.
    dependencies.logger?.warn(
      { op: log?.op, keyId: log?.keyId, error: (error as Error).name, reason: (error as Error).message },
      "aws-kms emulator failure",
    );
  } else {
    dependencies.logger?.debug(
      { op: log?.op, keyId: log?.keyId, error: known.type },
      "aws-kms request refused",
    );
  }
  reply.code(known.status).header("content-type", CONTENT_TYPE).header("x-amzn-requestid", randomUUID());
  // The SDK's retry strategy reads this header (milliseconds) and waits at least as long before retrying.
  if (known.retryAfterMs !== undefined) reply.header("x-amz-retry-after", String(known.retryAfterMs));
  return reply.send(JSON.stringify(known.toBody()));
}

function toKmsError(error: unknown): KmsError {
  if (error instanceof KmsError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  // Fastify's own refusals (unknown content type, body too large) are the client's fault.
  if (status !== undefined && status >= 400 && status < 500) return serialization((error as Error).message);
  return internalError();
}

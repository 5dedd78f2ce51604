import type { FastifyReply, FastifyRequest } from "fastify";
import type { VaultContext } from "./context.js";
import { internalServerError, serviceUnavailable, throttled } from "./errors.js";
import { type KeyClass, type QuotaOperation, quotaBuckets } from "./quotas.js";

/**
 * One request's life, the same for every route: injected faults and quotas first, then the operation,
 * then the state file, then the answer, which an injected "fail after commit" may replace by an error or a
 * dropped connection. Operations are named after the SDK's methods (`createKey`, `importKey`, ...), so
 * fault injection and logs speak the caller's language.
 */
export interface OperationSpec {
  /** The SDK method this request serves. */
  name: string;
  mutating: boolean;
  quota: QuotaOperation;
  /** The key the request is about, when known, for the quota bucket. */
  keyClass?: KeyClass | undefined;
  /** For logs: the key name only, never request bodies. */
  keyName?: string;
  /** 200 unless said otherwise (purge answers 204 without a body). */
  status?: number;
  run(): unknown | Promise<unknown>;
}

export async function runOperation(
  context: VaultContext,
  request: FastifyRequest,
  reply: FastifyReply,
  spec: OperationSpec,
): Promise<unknown> {
  context.logger?.debug({ op: spec.name, key: spec.keyName }, "azure key vault emulator request");

  const before = await context.faults.before(spec.name);
  if (before.kind === "throttle") throw throttled(before.retryAfterMs);
  if (before.kind === "error") throw serviceUnavailable();
  for (const bucket of quotaBuckets(context.managedHsm, spec.quota, spec.keyClass)) {
    const decision = context.quota.take(bucket);
    if (!decision.allowed) throw throttled(decision.retryAfterMs);
  }

  const body = await spec.run();
  if (spec.mutating) await context.persist();

  const after = context.faults.after(spec.name, spec.mutating);
  if (after === "drop") {
    // The change is made and saved; the client sees the connection close with no answer at all.
    reply.hijack();
    request.raw.socket.destroy();
    return undefined;
  }
  if (after === "error") throw internalServerError();
  reply.code(spec.status ?? 200);
  return spec.status === 204 ? reply.send() : body;
}

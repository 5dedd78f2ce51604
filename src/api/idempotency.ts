import { createHash } from "node:crypto";
import { and, eq, lt, sql } from "drizzle-orm";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Transaction } from "../db/client.js";
import { idempotencyRecords } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { canonicalJson } from "../ledger/hash.js";
import { conflict } from "./api-error.js";
import { type ApiContext, callerOf } from "./context.js";

/**
 * Mutating requests (IETF `Idempotency-Key` draft, SPEC section 5).
 *
 * - Scope: (calling token, key). The request hash is SHA-256 of the canonical JSON of method, path and body.
 * - The record is inserted `in_flight` in the same transaction as the work and completed with the answer
 *   before commit, so it exists exactly when the work committed. A failed request (4xx/5xx) rolls back with
 *   its record: repeating it with the same key runs it again.
 * - A concurrent duplicate is detected with a transaction-scoped advisory lock on (token, key), taken
 *   without waiting: while the first request is being accepted the second gets 409 `idempotency_in_flight`.
 * - Same key, same request: the stored answer, status and body (same operation id), with
 *   `Idempotent-Replayed: true`. Same key, another request: 422 `idempotency_key_reused`.
 * - Records are kept 24 h (`expires_at`); an expired record is dropped when its key comes again.
 * - A route may store a different body than it answers (`storedBody`): token creation stores its answer
 *   without the secret, which is shown once (a replay answers the token's id, name and role only).
 */

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const HEADER = "idempotency-key";

export interface MutationAnswer {
  status: number;
  body: unknown;
  /** What a replay answers, when it must differ from `body` (secrets shown once). */
  storedBody?: unknown;
  operationId?: string;
  /** An operation was accepted: nudge the relay after commit. */
  accepted?: boolean;
}

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers[HEADER];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(",") : raw;
  // The draft defines it as a structured-field string ("..."); a bare token is accepted as well.
  const key = /^"(.*)"$/.exec(value.trim())?.[1] ?? value.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new InvalidInputError(
      "invalid_idempotency_key",
      "Idempotency-Key must be 1–255 visible ASCII characters",
    );
  }
  return key;
}

export function requestHash(request: FastifyRequest): Buffer {
  const path = request.url.split("?")[0] ?? request.url;
  return createHash("sha256")
    .update(canonicalJson({ method: request.method, path, body: request.body ?? null }), "utf8")
    .digest();
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  reply.code(status);
  return status === 204 || body === null || body === undefined ? reply.send() : reply.send(body);
}

/** Run `work` in one transaction under the request's Idempotency-Key (if any) and send its answer. */
export async function runMutation(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  work: (tx: Transaction) => Promise<MutationAnswer>,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(request);
  if (key === undefined) {
    const answer = await ctx.db.transaction(work);
    if (answer.accepted) ctx.nudge?.();
    return send(reply, answer.status, answer.body);
  }
  const { tokenId } = callerOf(request);
  const hash = requestHash(request);
  const outcome = await ctx.db.transaction(async (tx) => {
    const lock = await tx.execute<{ locked: boolean }>(
      sql`SELECT pg_try_advisory_xact_lock(hashtextextended(${`${tokenId}\n${key}`}, 7)) AS locked`,
    );
    if (!lock.rows[0]?.locked) throw inFlight();
    const scope = and(eq(idempotencyRecords.tokenId, tokenId), eq(idempotencyRecords.key, key));
    await tx.delete(idempotencyRecords).where(and(scope, lt(idempotencyRecords.expiresAt, sql`now()`)));
    const [existing] = await tx.select().from(idempotencyRecords).where(scope);
    if (existing) {
      if (!existing.requestHash.equals(hash)) {
        throw new InvalidInputError(
          "idempotency_key_reused",
          "this Idempotency-Key was used for a different request by this token",
        );
      }
      if (existing.state !== "completed") throw inFlight();
      return { replayed: true as const, status: existing.responseStatus ?? 200, body: existing.responseBody };
    }
    await tx.insert(idempotencyRecords).values({
      tokenId,
      key,
      requestHash: hash,
      state: "in_flight",
      expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS),
    });
    const answer = await work(tx);
    await tx
      .update(idempotencyRecords)
      .set({
        state: "completed",
        responseStatus: answer.status,
        responseBody: answer.storedBody ?? answer.body ?? null,
        operationId: answer.operationId ?? null,
      })
      .where(scope);
    return { replayed: false as const, answer };
  });
  if (outcome.replayed) {
    reply.header("Idempotent-Replayed", "true");
    return send(reply, outcome.status, outcome.body);
  }
  if (outcome.answer.accepted) ctx.nudge?.();
  return send(reply, outcome.answer.status, outcome.answer.body);
}

function inFlight() {
  return conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed");
}

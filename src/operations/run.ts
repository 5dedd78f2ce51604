import { randomUUID } from "node:crypto";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { keys, kms, type OperationError, operations } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { appendToLedger } from "../ledger/append.js";
import { ProviderError } from "../providers/provider-error.js";
import type { OperationContext, OperationRow } from "./context.js";
import type { EngineDependencies, RunOperation, RunOutcome } from "./engine.js";
import {
  ChildrenPendingError,
  codeOf,
  DestinationsFailedError,
  isRetryable,
  logUnexpected,
  messageOf,
  OperationCanceledError,
  RunLeaseLostError,
} from "./errors.js";
import { PROCESSORS, type Processor } from "./processors.js";
import { release } from "./redistribute.js";
import { DEFAULT_RUN_LEASE_MS, holdLease, leaseFree, leaseUntil } from "./run-lease.js";
import { createStepRunner } from "./steps.js";

/**
 * How long a blocked operation waits before asking again (an earlier operation on its key has not ended).
 * Only a safety net: the operation that ends wakes the next of its key at once (`wakeNext`).
 */
export const BLOCKED_RETRY_MS = 10_000;
/** How long a run that found another run holding the operation waits before looking again, at most. */
const LEASE_RETRY_MS = 2_000;
/**
 * Runs of one operation after which it fails instead of trying again: the end of a loop that never settles
 * (a job that crashes every worker it reaches, which BullMQ fails and the sweeper re-enqueues). Throttling
 * bounces count too, so the bound is far above what pacing alone needs.
 */
export const MAX_RUNS = 1_000;
const FINAL_STATES = new Set(["succeeded", "failed", "canceled"]);
const ACTOR = "worker";

/**
 * Run one operation as far as it goes now (SPEC section 6): steps already finished by an earlier attempt
 * are not redone; a transient or throttled failure asks the queue to run it again later; a permanent one
 * fails the operation with its code and message.
 */
export const runOperation: RunOperation = async (deps, operationId, attempt, signal) => {
  const { db } = deps;
  const operation = await loadOperation(db, operationId);
  if (!operation) {
    deps.logger.warn({ operationId }, "operation to run does not exist");
    return { kind: "finished", state: "failed" };
  }
  if (FINAL_STATES.has(operation.state)) {
    // Also a queued operation canceled by the API: its job ends here, and the next of its key may go.
    wakeNext(deps, operation);
    return { kind: "finished", state: operation.state as "succeeded" | "failed" | "canceled" };
  }
  if (await hasEarlierUnfinished(db, operation)) return { kind: "blocked", retryInMs: BLOCKED_RETRY_MS };
  const processor = PROCESSORS[operation.type];
  const waitMs = await processor?.waitBeforeRun?.(deps, operation);
  if (waitMs !== undefined) return { kind: "blocked", retryInMs: waitMs };

  const [key] = operation.keyId ? await db.select().from(keys).where(eq(keys.id, operation.keyId)) : [];
  const [dest] = operation.kmsId
    ? await db.select({ name: kms.name }).from(kms).where(eq(kms.id, operation.kmsId))
    : [];
  const [parent] = operation.parentId
    ? await db.select({ type: operations.type }).from(operations).where(eq(operations.id, operation.parentId))
    : [];
  const keyName = key?.name ?? null;
  const kmsName = dest?.name ?? null;
  const logger = deps.logger.child({
    operationId,
    attempt,
    ...(keyName ? { key: keyName } : {}),
    ...(kmsName ? { kms: kmsName } : {}),
  });
  const token = randomUUID();
  const ctx: OperationContext = {
    deps,
    operation,
    key: key ?? null,
    kmsName,
    batchId: parent?.type === "redistribute" ? (operation.parentId ?? undefined) : undefined,
    attempt,
    signal,
    logger,
    step: createStepRunner(db, { id: operationId, keyName, kmsName, leaseToken: token }, logger),
  };
  const filed = { operationId, keyName, kmsName, actor: ACTOR };
  const leaseMs = deps.runLeaseMs ?? DEFAULT_RUN_LEASE_MS;

  const started = await db.transaction(async (tx) => {
    const rows = await tx
      .update(operations)
      .set({
        state: "running",
        attempts: sql`${operations.attempts} + 1`,
        startedAt: sql`coalesce(${operations.startedAt}, now())`,
        updatedAt: new Date(),
        runToken: token,
        runExpiresAt: leaseUntil(leaseMs),
      })
      .where(and(eq(operations.id, operationId), inArray(operations.state, ["queued", "running"]), leaseFree))
      .returning({ attempts: operations.attempts });
    const [row] = rows;
    if (!row) return undefined;
    await appendToLedger(tx, {
      ...filed,
      event: "operation.started",
      data: { type: operation.type, attempt, attempts: row.attempts },
    });
    return row;
  });
  if (!started) return finalOrHeld(db, operationId, leaseMs);
  const lease = holdLease(db, operationId, token, leaseMs, logger, signal);
  ctx.signal = lease.signal;
  ctx.leaseToken = token;
  try {
    return await runHeld(ctx, filed, started.attempts, processor);
  } finally {
    await lease.release();
  }
};

/** The run, holding the operation's lease: its processor, then the final state. */
async function runHeld(
  ctx: OperationContext,
  filed: Filed,
  attempts: number,
  processor: Processor | undefined,
): Promise<RunOutcome> {
  const { deps, operation, logger } = ctx;
  const { db } = deps;
  const operationId = operation.id;
  if (attempts > MAX_RUNS) {
    return failOperation(ctx, filed, {
      code: "attempts_exhausted",
      message: `operation ${operationId} did not finish in ${MAX_RUNS} runs; see its steps and the ledger`,
      retryable: false,
    });
  }

  try {
    if (!processor) {
      throw new InvalidInputError(
        "operation_type_unsupported",
        `operations of type ${operation.type} are not run by this engine yet`,
      );
    }
    await processor.run(ctx);
  } catch (error) {
    if (error instanceof OperationCanceledError) {
      wakeNext(deps, operation);
      return { kind: "finished", state: "canceled" };
    }
    if (error instanceof RunLeaseLostError) return leaseLost(ctx);
    if (error instanceof ChildrenPendingError) return { kind: "blocked", retryInMs: error.retryInMs };
    logUnexpected(logger, error, "operation run failed: unexpected error");
    if (isRetryable(error)) {
      logger.warn({ code: codeOf(error), message: messageOf(error) }, "operation will be retried");
      return { kind: "retry", delayMs: retryDelay(error), reason: `${codeOf(error)}: ${messageOf(error)}` };
    }
    return failOperation(ctx, filed, { code: codeOf(error), message: messageOf(error), retryable: false });
  }

  const ended = await db.transaction(async (tx) => {
    const rows = await tx
      .update(operations)
      .set({ state: "succeeded", error: null, finishedAt: new Date(), updatedAt: new Date() })
      .where(heldBy(ctx))
      .returning({ id: operations.id });
    if (rows.length === 0) return false;
    await appendToLedger(tx, { ...filed, event: "operation.succeeded", data: { type: operation.type } });
    return true;
  });
  if (!ended) return leaseLost(ctx);
  wakeNext(deps, operation);
  await releaseSiblings(deps, operation);
  return { kind: "finished", state: "succeeded" };
}

type Filed = { operationId: string; keyName: string | null; kmsName: string | null; actor: string };

/** The operation, as long as this run holds its lease (final states are written only under it). */
function heldBy(ctx: OperationContext) {
  return and(
    eq(operations.id, ctx.operation.id),
    ctx.leaseToken ? eq(operations.runToken, ctx.leaseToken) : undefined,
  );
}

/** Another run took the operation over (this one's lease had expired): that run finishes it. */
function leaseLost(ctx: OperationContext): RunOutcome {
  ctx.logger.warn("run lease lost before the end: the run that holds the operation finishes it");
  return { kind: "blocked", retryInMs: LEASE_RETRY_MS };
}

/** Not started: the operation is final, or another run holds its lease (look again once it may be free). */
async function finalOrHeld(db: Database, id: string, leaseMs: number): Promise<RunOutcome> {
  const row = await loadOperation(db, id);
  if (row && !FINAL_STATES.has(row.state)) {
    return { kind: "blocked", retryInMs: Math.min(leaseMs / 3, LEASE_RETRY_MS) };
  }
  return finalState(db, id);
}

/** A bulk operation's child that finished makes room for the next one of its destination. */
async function releaseSiblings(deps: EngineDependencies, operation: OperationRow): Promise<void> {
  if (!operation.parentId) return;
  try {
    await release(deps, operation.parentId, operation.kmsId ? [operation.kmsId] : undefined);
  } catch (error) {
    // The waiting parent releases them on its next look.
    deps.logger.warn({ parentId: operation.parentId, error: messageOf(error) }, "next children not released");
  }
}

async function failOperation(
  ctx: OperationContext,
  filed: Filed,
  failure: OperationError,
): Promise<RunOutcome> {
  const { db } = ctx.deps;
  const ended = await db.transaction(async (tx) => {
    const rows = await tx
      .update(operations)
      .set({ state: "failed", error: failure, finishedAt: new Date(), updatedAt: new Date() })
      .where(heldBy(ctx))
      .returning({ id: operations.id });
    if (rows.length === 0) return false;
    await PROCESSORS[ctx.operation.type]?.onFailed?.(ctx, tx);
    await appendToLedger(tx, { ...filed, event: "operation.failed", data: { error: failure } });
    return true;
  });
  if (!ended) return leaseLost(ctx);
  ctx.logger.warn({ error: failure }, "operation failed");
  wakeNext(ctx.deps, ctx.operation);
  await releaseSiblings(ctx.deps, ctx.operation);
  return { kind: "finished", state: "failed" };
}

async function loadOperation(db: Database, id: string): Promise<OperationRow | undefined> {
  const [row] = await db.select().from(operations).where(eq(operations.id, id));
  return row;
}

/**
 * Operations on one key run one at a time, in their key's order (`key_seq`, given at intake under the key
 * row's lock, so in the order the intakes committed, whichever process took them): an operation starts only
 * when every earlier one of its key has ended. That is the guard of the whole run: the earlier operation
 * stays `queued`/`running` until its final state is written under its run lease, and a run that loses its
 * lease stops (run-lease.ts, steps.ts). Children of one bulk operation are the exception among themselves:
 * a redistribution's copies of one key to several destinations touch different copies, so they run in
 * parallel like a rotation's fan-out does (one slow destination must not hold the key's copy to a fast
 * one); they still wait for everything accepted before them.
 */
async function hasEarlierUnfinished(db: Database, operation: OperationRow): Promise<boolean> {
  if (!operation.keyId || operation.keySeq === null) return false;
  const siblings = operation.parentId ? sql`and o.parent_id is distinct from ${operation.parentId}` : sql``;
  const result = await db.execute<{ earlier: boolean }>(sql`
    select exists (
      select 1 from ${operations} o
      where o.key_id = ${operation.keyId}
        and o.state in ('queued', 'running')
        and o.key_seq < ${operation.keySeq}
        ${siblings}
    ) as earlier`);
  return result.rows[0]?.earlier === true;
}

/** Operations woken at most per end (a redistribution's children of one key: one per destination). */
const WAKE_LIMIT = 32;

/**
 * The operation ended: the next of its key (with its siblings of the same bulk run) may start now. Their
 * jobs wait delayed (they found this one ahead of them); the queue's waker promotes them, so the key's
 * next operation starts at once instead of at its blocked retry. Runs in the background and never throws.
 */
function wakeNext(deps: EngineDependencies, operation: OperationRow): void {
  const { wake } = deps;
  if (!wake || !operation.keyId) return;
  const keyId = operation.keyId;
  const next = async () => {
    const rows = await deps.db
      .select({ id: operations.id, parentId: operations.parentId, held: operations.held })
      .from(operations)
      .where(and(eq(operations.keyId, keyId), inArray(operations.state, ["queued", "running"])))
      .orderBy(asc(operations.keySeq))
      .limit(WAKE_LIMIT);
    const [first] = rows;
    // A held child has no job yet: its parent hands it to the queue (and the ones after it wait for it).
    if (!first || first.held) return [];
    // Siblings run side by side, up to the first operation that is not one of them (it waits for them).
    const group = [first];
    for (const row of rows.slice(1)) {
      if (!first.parentId || row.parentId !== first.parentId || row.held) break;
      group.push(row);
    }
    return group.map((r) => r.id);
  };
  next()
    .then((ids) => (ids.length > 0 ? wake(ids) : undefined))
    .catch((error: unknown) =>
      deps.logger.debug({ operationId: operation.id, error: messageOf(error) }, "next operation not woken"),
    );
}

async function finalState(db: Database, id: string): Promise<RunOutcome> {
  const row = await loadOperation(db, id);
  const state = row && FINAL_STATES.has(row.state) ? row.state : "canceled";
  return { kind: "finished", state: state as "succeeded" | "failed" | "canceled" };
}

function retryDelay(error: unknown): number | undefined {
  if (error instanceof ProviderError || error instanceof DestinationsFailedError) return error.retryAfterMs;
  return undefined;
}

import { Queue } from "bullmq";
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import { equalJitterDelay, abortableSleep as sleep } from "../backoff.js";
import type { Database } from "../db/client.js";
import { operations, outbox } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import { operationJob } from "./job-options.js";
import { OPERATIONS_QUEUE, type OperationJobData, queuePrefix } from "./names.js";

export interface RelayDependencies {
  db: Database;
  /** The relay's own Redis connection (BullMQ commands wait on it while Redis is away). */
  connection: Redis;
  redisPrefix: string;
  logger: Logger;
  batchSize?: number;
  /** How often to look for rows when nobody nudges. */
  pollMs?: number;
  /** How long Redis may take to accept a batch before the rows are kept for later. */
  enqueueTimeoutMs?: number;
  /** Backoff of rows Redis did not take. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface Relay {
  /** Look at the outbox now (called right after intake commits). */
  nudge(): void;
  /** One pass: how many rows went to the queue. Exposed for tests and the sweeper. */
  relayOnce(): Promise<number>;
  stop(): Promise<void>;
}

class EnqueueTimeout extends Error {
  override name = "EnqueueTimeout";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeout(`redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Move outbox rows into BullMQ (SPEC section 6). Rows are locked (SKIP LOCKED, so several relays share the
 * work), enqueued with jobId = operation id, and deleted in the same transaction once Redis took them. If
 * Redis is away the rows stay, with attempts and a later `available_at`. A late answer from Redis after a
 * timeout is harmless: BullMQ ignores a second job with the same id.
 */
export function startRelay(deps: RelayDependencies): Relay {
  const batchSize = deps.batchSize ?? 100;
  const pollMs = deps.pollMs ?? 1000;
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? 5000;
  const retry = { baseMs: deps.retryBaseMs ?? 1000, maxMs: deps.retryMaxMs ?? 60_000 };
  const log = deps.logger;
  const queue = new Queue<OperationJobData>(OPERATIONS_QUEUE, {
    connection: deps.connection,
    prefix: queuePrefix(deps.redisPrefix),
  });
  queue.on("error", (err) => log.debug({ err: { message: err.message } }, "relay queue error"));

  const relayBatch = () =>
    deps.db.transaction(async (tx) => {
      const rows = await tx
        .select({
          id: outbox.id,
          operationId: outbox.operationId,
          attempts: outbox.attempts,
          parentId: operations.parentId,
        })
        .from(outbox)
        .leftJoin(operations, eq(operations.id, outbox.operationId))
        .where(and(eq(outbox.queue, OPERATIONS_QUEUE), lte(outbox.availableAt, sql`now()`)))
        .orderBy(asc(outbox.id))
        .limit(batchSize)
        .for("update", { of: outbox, skipLocked: true });
      if (rows.length === 0) return 0;
      const ids = rows.map((r) => r.id);
      try {
        await withTimeout(
          queue.addBulk(rows.map((r) => operationJob(r.operationId, { bulk: r.parentId !== null }))),
          enqueueTimeoutMs,
        );
      } catch (err) {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        for (const row of rows) {
          const delayMs = equalJitterDelay(row.attempts + 1, retry.baseMs, retry.maxMs);
          await tx
            .update(outbox)
            .set({
              attempts: row.attempts + 1,
              lastError: message.slice(0, 500),
              availableAt: sql`now() + make_interval(secs => ${delayMs / 1000})`,
            })
            .where(eq(outbox.id, row.id));
        }
        log.warn({ rows: rows.length, error: message }, "outbox rows kept: redis did not take them");
        return 0;
      }
      await tx.delete(outbox).where(inArray(outbox.id, ids));
      log.debug({ rows: rows.length }, "outbox rows enqueued");
      return rows.length;
    });

  // One pass at a time per relay: a pass asked for from outside (relayOnce) waits for the loop's current
  // pass instead of skipping the rows that pass holds locked, so when it returns they have been moved.
  let passes: Promise<unknown> = Promise.resolve();
  const relayOnce = (): Promise<number> => {
    const pass = passes.then(relayBatch, relayBatch);
    passes = pass.catch(() => {});
    return pass;
  };

  let stopped = false;
  let wake: (() => void) | undefined;
  let pending = false;
  const waitForWork = async (ms: number) => {
    if (pending) {
      pending = false;
      return;
    }
    const controller = new AbortController();
    wake = () => controller.abort();
    await sleep(ms, controller.signal).catch(() => {});
    wake = undefined;
    pending = false;
  };

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      let moved = 0;
      try {
        moved = await relayOnce();
        failures = 0;
      } catch (err) {
        failures += 1;
        if (failures === 1 || failures % 50 === 0) log.warn({ err, failures }, "outbox relay failed");
      }
      if (stopped) break;
      if (moved === batchSize) continue;
      await waitForWork(failures > 0 ? Math.min(pollMs * 2 ** failures, 30_000) : pollMs);
    }
  })();

  return {
    nudge() {
      pending = true;
      wake?.();
    },
    relayOnce,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await withTimeout(queue.close(), enqueueTimeoutMs).catch(() => {});
    },
  };
}

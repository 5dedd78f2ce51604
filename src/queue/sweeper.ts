import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import { and, asc, eq, inArray, lt, notExists, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operations, outbox } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import type { Redis } from "../redis.js";
import { OPERATIONS_QUEUE, type OperationJobData } from "./names.js";

export interface SweeperDependencies {
  db: Database;
  queue: Queue<OperationJobData>;
  logger: Logger;
  /** Operations untouched for less than this are left alone (the relay or a worker may be on them). */
  graceMs?: number;
  intervalMs?: number;
  /**
   * How often to look at Redis's epoch marker: when it is gone (Redis restarted empty, or failed over to a
   * replica without the data), every open operation whose job is gone is re-enqueued at once, without grace.
   */
  epochCheckMs?: number;
  /** Where the epoch marker is kept (the queue's Redis); without it, data loss waits for the grace. */
  redis?: Redis;
  batchSize?: number;
  /** Called after rows were put into the outbox (the relay's `nudge`). */
  onEnqueued?: () => void;
}

export interface Sweeper {
  /** One pass; `graceMs` overrides the grace (0 right after Redis lost its data). */
  sweepOnce(graceMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/** Defaults (README, Reliability): a job gone for 30 s is made again; an emptied Redis is noticed in 2 s. */
export const DEFAULT_SWEEP_GRACE_MS = 30_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 10_000;
export const DEFAULT_EPOCH_CHECK_MS = 2_000;

/**
 * A marker in Redis, written once by whichever process comes first, that every sweeper remembers: when it
 * is missing or changed, Redis lost what it held since (a restart without persistence, a failover to an
 * empty replica, a FLUSHALL). No secret in it: a random id.
 */
function epochMarker(client: Redis | undefined, prefix: string) {
  const key = `${prefix}:keyferry:epoch`;
  let known: string | undefined;
  return {
    async lost(): Promise<boolean> {
      if (!client) return false;
      let current = await client.get(key);
      if (current === null) {
        await client.set(key, randomUUID(), "NX");
        current = await client.get(key);
      }
      const lost = known !== undefined && current !== known;
      known = current ?? undefined;
      return lost;
    },
  };
}

/**
 * Re-enqueue, through the outbox, operations that are not final but whose job is gone from BullMQ (Redis
 * lost data, a job was removed, or BullMQ failed or completed it while the operation did not finish), so
 * that an accepted request is never lost (SPEC section 6). A failed or completed job is removed first: BullMQ
 * would ignore a new job with the same id.
 */
export function startSweeper(deps: SweeperDependencies): Sweeper {
  const defaultGraceMs = deps.graceMs ?? DEFAULT_SWEEP_GRACE_MS;
  const intervalMs = deps.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  const epochCheckMs = deps.epochCheckMs ?? DEFAULT_EPOCH_CHECK_MS;
  const batchSize = deps.batchSize ?? 500;
  const log = deps.logger;

  const sweepOnce = async (graceMs = defaultGraceMs): Promise<number> => {
    const candidates = await deps.db
      .select({ id: operations.id })
      .from(operations)
      .where(
        and(
          inArray(operations.state, ["queued", "running"]),
          // A held child has no job on purpose: its parent hands it to the queue when its turn comes.
          eq(operations.held, false),
          lt(operations.updatedAt, sql`now() - make_interval(secs => ${graceMs / 1000})`),
          notExists(
            deps.db.select({ one: sql`1` }).from(outbox).where(sql`${outbox.operationId} = ${operations.id}`),
          ),
        ),
      )
      .orderBy(asc(operations.updatedAt))
      .limit(batchSize);
    const lost: string[] = [];
    for (const { id } of candidates) {
      const job = await deps.queue.getJob(id);
      if (!job) {
        lost.push(id);
        continue;
      }
      const state = await job.getState();
      if (state === "failed" || state === "completed") {
        await job.remove();
        lost.push(id);
      }
    }
    if (lost.length === 0) return 0;
    // A worker may have finished one of them meanwhile (and its job completed): look again.
    const still = await deps.db
      .select({ id: operations.id })
      .from(operations)
      .where(and(inArray(operations.id, lost), inArray(operations.state, ["queued", "running"])));
    if (still.length === 0) return 0;
    await deps.db
      .insert(outbox)
      .values(still.map(({ id }) => ({ operationId: id, queue: OPERATIONS_QUEUE })));
    log.warn({ operations: still.map((o) => o.id) }, "re-enqueued operations whose job was gone");
    deps.onEnqueued?.();
    return still.length;
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let nextSweepAt = Date.now() + intervalMs;
  const epoch = epochMarker(deps.redis, deps.queue.opts.prefix ?? "bull");
  const tick = () => {
    running = (async () => {
      let graceMs: number | undefined;
      try {
        if (await epoch.lost()) {
          log.warn("redis lost its data (epoch marker gone): re-enqueuing every open operation now");
          graceMs = 0;
        }
      } catch {
        // Redis is away: nothing to compare yet; the next look after it is back tells.
      }
      if (graceMs === undefined && Date.now() < nextSweepAt) return;
      nextSweepAt = Date.now() + intervalMs;
      await sweepOnce(graceMs).catch((err: unknown) => log.warn({ err }, "queue sweep failed"));
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, Math.min(epochCheckMs, intervalMs));
    });
  };
  timer = setTimeout(tick, Math.min(epochCheckMs, intervalMs));

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

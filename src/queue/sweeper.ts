import type { Queue } from "bullmq";
import { and, asc, eq, inArray, lt, notExists, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operations, outbox } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import { OPERATIONS_QUEUE, type OperationJobData } from "./names.js";

export interface SweeperDependencies {
  db: Database;
  queue: Queue<OperationJobData>;
  logger: Logger;
  /** Operations untouched for less than this are left alone (the relay or a worker may be on them). */
  graceMs?: number;
  intervalMs?: number;
  batchSize?: number;
  /** Called after rows were put into the outbox (the relay's `nudge`). */
  onEnqueued?: () => void;
}

export interface Sweeper {
  sweepOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Re-enqueue, through the outbox, operations that are not final but whose job is gone from BullMQ (Redis
 * lost data, a job was removed, or BullMQ failed or completed it while the operation did not finish), so
 * that an accepted request is never lost (SPEC section 6). A failed or completed job is removed first: BullMQ
 * would ignore a new job with the same id.
 */
export function startSweeper(deps: SweeperDependencies): Sweeper {
  const graceMs = deps.graceMs ?? 120_000;
  const intervalMs = deps.intervalMs ?? 30_000;
  const batchSize = deps.batchSize ?? 500;
  const log = deps.logger;

  const sweepOnce = async (): Promise<number> => {
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
  const tick = () => {
    running = sweepOnce()
      .catch((err: unknown) => log.warn({ err }, "queue sweep failed"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);

  return {
    sweepOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

import { Queue, Worker } from "bullmq";
import type { Database } from "../db/client.js";
import type { Logger } from "../logger.js";
import { acceptDueWork } from "../operations/schedules.js";
import type { Redis } from "../redis.js";
import { queuePrefix, SCHEDULES_QUEUE } from "./names.js";

export interface SchedulesDependencies {
  db: Database;
  /** A new Redis connection each time (BullMQ's worker blocks on its own). */
  connection: () => Redis;
  redisPrefix: string;
  logger: Logger;
  tickMs: number;
  reconcileIntervalSeconds: number;
  /** Called after due work was accepted (the relay's `nudge`). */
  onAccepted?: () => void;
}

export interface Schedules {
  /** One tick now, outside BullMQ (tests). */
  tickOnce(): Promise<{ rotations: number; reconciles: number }>;
  stop(): Promise<void>;
}

/** The BullMQ job scheduler's id: one for the whole installation, whatever the number of workers. */
export const TICK_SCHEDULER = "keyferry-schedule-tick";
/** A Redis restart (without persistence) loses the scheduler: every worker puts it back this often. */
const ENSURE_EVERY_MS = 60_000;

/**
 * Scheduled rotation and periodic drift checks through a BullMQ job scheduler: one repeatable `tick` job
 * every `tickMs`, taken by one worker at a time, accepts what is due (src/operations/schedules.ts) as ordinary
 * operations. What is due is decided from PostgreSQL, not from the ticks, so ticks missed while no worker ran
 * cause one rotation per key when workers return, not one per missed period; and a tick run twice accepts
 * nothing twice.
 */
export async function startSchedules(deps: SchedulesDependencies): Promise<Schedules> {
  const log = deps.logger;
  const prefix = queuePrefix(deps.redisPrefix);
  const queue = new Queue(SCHEDULES_QUEUE, { connection: deps.connection(), prefix });
  queue.on("error", (err) => log.debug({ err: { message: err.message } }, "schedules queue error"));

  const tickOnce = async () => {
    const accepted = await acceptDueWork(deps.db, deps.reconcileIntervalSeconds);
    if (accepted.rotations + accepted.reconciles > 0) {
      log.info(accepted, "scheduled work accepted");
      deps.onAccepted?.();
    }
    return accepted;
  };

  const ensureScheduler = () =>
    queue
      .upsertJobScheduler(
        TICK_SCHEDULER,
        { every: deps.tickMs },
        { name: "tick", opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } } },
      )
      .catch((err: unknown) =>
        log.warn({ err: { message: (err as Error).message } }, "schedule tick not registered"),
      );
  await ensureScheduler();
  const ensuring = setInterval(ensureScheduler, ENSURE_EVERY_MS);
  ensuring.unref();

  const worker = new Worker(SCHEDULES_QUEUE, async () => tickOnce(), {
    connection: deps.connection(),
    prefix,
    concurrency: 1,
  });
  worker.on("error", (err) => log.warn({ err: { message: err.message } }, "schedules worker error"));
  worker.on("failed", (_job, err) => log.warn({ err: { message: err.message } }, "schedule tick failed"));

  return {
    tickOnce,
    async stop() {
      clearInterval(ensuring);
      await worker.close();
      await queue.close();
    },
  };
}

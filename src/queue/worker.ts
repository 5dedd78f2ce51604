import { DelayedError, type Job, Worker } from "bullmq";
import { sql } from "drizzle-orm";
import { equalJitterDelay } from "../backoff.js";
import type { Config } from "../config.js";
import type { Database } from "../db/client.js";
import { isBackingServiceDown, isDatabaseTimeout } from "../db/errors.js";
import type { Logger } from "../logger.js";
import type { EngineDependencies, RunOperation, RunOutcome } from "../operations/engine.js";
import type { Redis } from "../redis.js";
import { OPERATIONS_QUEUE, type OperationJobData, queuePrefix } from "./names.js";

export interface WorkerSettings {
  /** A job's lock lives this long unless renewed; a SIGKILLed worker's jobs are free again after it. */
  lockDurationMs: number;
  /** How often each worker looks for jobs whose lock expired (stalled) and puts them back. */
  stalledIntervalMs: number;
  /** Stalls before BullMQ fails a job (the sweeper re-enqueues it if its operation is not final). */
  maxStalledCount: number;
  /** Backoff of `retry` outcomes without a delay of their own. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A job whose run was aborted by shutdown goes back to the queue after this. */
  releaseDelayMs: number;
  /** While PostgreSQL is away the worker takes no jobs; it asks again this often. */
  databaseProbeMs: number;
  /** A run that met a database outage goes back to the queue after about this. */
  databaseRetryMs: number;
}

export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  lockDurationMs: 5_000,
  stalledIntervalMs: 2_500,
  maxStalledCount: 5,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  releaseDelayMs: 0,
  databaseProbeMs: 1_000,
  databaseRetryMs: 2_000,
};

export interface OperationsWorkerDependencies {
  config: Pick<Config, "redisPrefix" | "worker">;
  /** A new Redis connection (BullMQ blocks on the worker's own). */
  connection: () => Redis;
  runOperation: RunOperation;
  engine: EngineDependencies;
  /** Probed while PostgreSQL is away; the engine's database when absent. */
  db?: Database;
  logger: Logger;
  settings?: Partial<WorkerSettings>;
  /** Told how each run ended (metrics: src/metrics/operation-runs.ts); must not throw. */
  onRun?: (report: RunReport) => void;
}

/** One run of an operation: `released` = aborted by shutdown, `crashed` = the engine threw. */
export interface RunReport {
  operationId: string;
  /** `Date.now()` before the run began. */
  startedAtMs: number;
  outcome: RunOutcome | { kind: "released" | "crashed" };
}

export interface OperationsWorker {
  worker: Worker<OperationJobData>;
  /** Stop taking jobs, wait for running ones up to the grace period, then abort them and release them. */
  stop(): Promise<void>;
}

/**
 * The BullMQ worker of the operations queue: hands each job's operation id to the engine and does what the
 * outcome says. `blocked` and `retry` put the job back as delayed (not a failure, no BullMQ attempt spent).
 */
export function startOperationsWorker(deps: OperationsWorkerDependencies): OperationsWorker {
  const settings = { ...DEFAULT_WORKER_SETTINGS, ...deps.settings };
  const log = deps.logger;
  let shuttingDown = false;

  const later = async (job: Job<OperationJobData>, token: string | undefined, delayMs: number) => {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  };

  const apply = async (job: Job<OperationJobData>, token: string | undefined, outcome: RunOutcome) => {
    const jobLog = log.child({ operationId: job.data.operationId, jobId: job.id });
    switch (outcome.kind) {
      case "finished":
        jobLog.debug({ state: outcome.state }, "operation finished");
        return outcome.state;
      case "blocked":
        return later(job, token, outcome.retryInMs);
      case "retry": {
        const retries = (job.data.retries ?? 0) + 1;
        const delayMs =
          outcome.delayMs ?? equalJitterDelay(retries, settings.retryBaseMs, settings.retryMaxMs);
        await job.updateData({ operationId: job.data.operationId, retries });
        jobLog.info({ retries, delayMs, reason: outcome.reason }, "operation will be retried");
        return later(job, token, delayMs);
      }
    }
  };

  // Three parameters: BullMQ passes the abort signal only to processors that declare it.
  const processor = async (job: Job<OperationJobData>, token?: string, signal?: AbortSignal) => {
    const attempt = job.attemptsMade + (job.data.retries ?? 0) + 1;
    const startedAtMs = Date.now();
    const report = (outcome: RunReport["outcome"]) =>
      deps.onRun?.({ operationId: job.data.operationId, startedAtMs, outcome });
    let outcome: RunOutcome;
    try {
      outcome = await deps.runOperation(deps.engine, job.data.operationId, attempt, signal);
    } catch (err) {
      if (shuttingDown && signal?.aborted) {
        report({ kind: "released" });
        log.info({ operationId: job.data.operationId }, "operation released at shutdown");
        return later(job, token, settings.releaseDelayMs);
      }
      if (isBackingServiceDown(err) || isDatabaseTimeout(err)) {
        // Not the operation's fault: no attempt spent; it resumes from its last recorded step.
        const delayMs = equalJitterDelay(1, settings.databaseRetryMs, settings.databaseRetryMs);
        report({ kind: "retry", delayMs, reason: "database unavailable" });
        outage.noticed(err);
        return later(job, token, delayMs);
      }
      report({ kind: "crashed" });
      // An engine bug or lost dependency: BullMQ retries it with its own backoff.
      throw err;
    }
    report(outcome);
    if (shuttingDown && signal?.aborted && outcome.kind === "finished") return outcome.state;
    return apply(job, token, outcome);
  };

  const worker = new Worker<OperationJobData>(OPERATIONS_QUEUE, processor, {
    connection: deps.connection(),
    prefix: queuePrefix(deps.config.redisPrefix),
    concurrency: deps.config.worker.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
  });
  const outage = watchDatabaseOutage(worker, deps.db ?? deps.engine.db, settings.databaseProbeMs, log);
  worker.on("error", (err) => log.warn({ err: { message: err.message } }, "operations worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ operationId: job?.data.operationId, err: { message: err.message } }, "operation job failed"),
  );

  return {
    worker,
    async stop() {
      shuttingDown = true;
      outage.stop();
      const grace = setTimeout(() => {
        log.warn(
          { graceMs: deps.config.worker.shutdownGraceMs },
          "grace period over: aborting running operations",
        );
        worker.cancelAllJobs("shutdown");
      }, deps.config.worker.shutdownGraceMs);
      try {
        await worker.close();
      } finally {
        clearTimeout(grace);
      }
    },
  };
}

interface OutageWatch {
  /** A run met a database outage: stop taking jobs until PostgreSQL answers again. */
  noticed(error: unknown): void;
  stop(): void;
}

/**
 * While PostgreSQL is away the worker takes no more jobs (each would fail at once and spin through the
 * queue); running ones finish or go back to the queue. A probe every `probeMs` resumes it when the database
 * answers, so the worker comes back by itself.
 */
function watchDatabaseOutage(
  worker: Worker<OperationJobData>,
  db: Database,
  probeMs: number,
  log: Logger,
): OutageWatch {
  let down = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const probe = async () => {
    timer = undefined;
    if (stopped) return;
    try {
      await db.execute(sql`select 1`);
      down = false;
      log.info("postgres answers again: taking jobs");
      worker.resume().catch((err: unknown) => log.warn({ err }, "operations worker did not resume"));
    } catch {
      timer = setTimeout(() => void probe(), probeMs);
    }
  };
  return {
    noticed(error) {
      if (down || stopped) return;
      down = true;
      log.warn(
        { err: { message: error instanceof Error ? error.message : String(error) } },
        "postgres unavailable: taking no jobs until it answers",
      );
      worker.pause(true).catch(() => {});
      timer = setTimeout(() => void probe(), probeMs);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

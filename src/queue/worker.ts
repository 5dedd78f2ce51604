import { DelayedError, type Job, Worker } from "bullmq";
import { equalJitterDelay } from "../backoff.js";
import type { Config } from "../config.js";
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
}

export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  lockDurationMs: 30_000,
  stalledIntervalMs: 15_000,
  maxStalledCount: 5,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  releaseDelayMs: 0,
};

export interface OperationsWorkerDependencies {
  config: Pick<Config, "redisPrefix" | "worker">;
  /** A new Redis connection (BullMQ blocks on the worker's own). */
  connection: () => Redis;
  runOperation: RunOperation;
  engine: EngineDependencies;
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
  worker.on("error", (err) => log.warn({ err: { message: err.message } }, "operations worker error"));
  worker.on("failed", (job, err) =>
    log.warn({ operationId: job?.data.operationId, err: { message: err.message } }, "operation job failed"),
  );

  return {
    worker,
    async stop() {
      shuttingDown = true;
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

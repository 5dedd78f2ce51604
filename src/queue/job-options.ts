import type { JobsOptions } from "bullmq";

/**
 * Options of every operations job. The engine decides about retries (RunOutcome), so BullMQ's own attempts
 * only matter when a processor crashes: then BullMQ retries with its backoff. Finished jobs are kept a
 * while for `GET /v1/queues` and debugging, bounded so Redis does not grow; PostgreSQL keeps the history.
 */
export const OPERATION_JOB_OPTIONS: JobsOptions = {
  attempts: 1000,
  backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

export function operationJob(operationId: string) {
  return {
    name: "operation",
    data: { operationId },
    opts: { ...OPERATION_JOB_OPTIONS, jobId: operationId },
  };
}

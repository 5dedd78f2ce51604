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

/**
 * BullMQ priority of the children of bulk operations. Jobs without a priority are taken before any
 * prioritized job, so an operation someone asked for now (a rotation, a distribution) never waits behind
 * the thousands of queued children of a redistribution; the children keep their order among themselves.
 */
export const BULK_CHILD_PRIORITY = 100;

export function operationJob(operationId: string, options: { bulk?: boolean } = {}) {
  return {
    name: "operation",
    data: { operationId },
    opts: {
      ...OPERATION_JOB_OPTIONS,
      jobId: operationId,
      ...(options.bulk ? { priority: BULK_CHILD_PRIORITY } : {}),
    },
  };
}

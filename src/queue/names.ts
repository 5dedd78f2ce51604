/**
 * The BullMQ queues keyferry uses and what their jobs carry. Jobs carry ids only, never secrets (SPEC
 * section 7): a worker reads everything else from PostgreSQL.
 */
export const OPERATIONS_QUEUE = "operations";
/** The repeatable tick of scheduled rotations and drift checks (src/queue/schedules.ts). */
export const SCHEDULES_QUEUE = "schedules";

export interface OperationJobData {
  operationId: string;
  /**
   * How many times the engine asked for a retry. BullMQ's `moveToDelayed` does not count attempts, so the
   * worker keeps this count itself for the attempt number and the backoff. A number, never a secret.
   */
  retries?: number;
}

/**
 * BullMQ's `prefix` option: every key of every queue starts with it. The configured prefix carries a
 * {hash tag} so that one queue's keys land in one Redis Cluster slot.
 */
export function queuePrefix(redisPrefix: string): string {
  return redisPrefix;
}

import type { Queue } from "bullmq";
import { abortableSleep as sleep } from "../backoff.js";
import type { Logger } from "../logger.js";
import type { OperationJobData } from "./names.js";

/** How long a wake waits for a job that is still being put back (its run just found itself blocked). */
const ACTIVE_WAIT_MS = 3_000;
const ACTIVE_POLL_MS = 50;

/**
 * Wake operations whose turn came (the one ahead of them on their key ended): a job delayed because it was
 * blocked is promoted, so it runs now instead of at its safety-net retry. A job that is still active is
 * the run that just found itself blocked and is being put back: the wake waits for it to be delayed, then
 * promotes it. Waiting, prioritized and missing jobs need nothing (the sweeper makes missing ones again).
 * Never throws: a wake that fails leaves the safety-net retry.
 */
export function createWaker(queue: Queue<OperationJobData>, logger: Logger) {
  const wakeOne = async (operationId: string) => {
    const deadline = Date.now() + ACTIVE_WAIT_MS;
    for (;;) {
      const job = await queue.getJob(operationId);
      if (!job) return;
      const state = await job.getState();
      if (state === "delayed") {
        try {
          await job.promote();
          return;
        } catch {
          // It left the delayed set meanwhile (its delay ran out, or another wake promoted it): look again.
        }
      } else if (state !== "active") {
        return;
      }
      if (Date.now() > deadline) return;
      await sleep(ACTIVE_POLL_MS);
    }
  };
  return async (operationIds: readonly string[]): Promise<void> => {
    await Promise.all(
      operationIds.map((id) =>
        wakeOne(id).catch((err: unknown) =>
          logger.debug(
            { operationId: id, err: { message: err instanceof Error ? err.message : String(err) } },
            "operation not woken; its retry runs it",
          ),
        ),
      ),
    );
  };
}

import { eq } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operations } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import type { RunReport } from "../queue/worker.js";
import type { Metrics } from "./metrics.js";

/**
 * A finished_at this much before the run began still counts as set by the run: finished_at may come from
 * the database's clock while the run's start is this process's.
 */
const CLOCK_TOLERANCE_MS = 1_000;

/**
 * The operations worker's `onRun`: counts runs by outcome, and observes an operation's duration (accepted
 * to final state) once, in the worker process whose run finished it. A run that only found the operation
 * final already (a duplicate job after a sweep, a cancel while queued) observes nothing, so summing the
 * histogram over all worker processes counts each finished operation once.
 */
export function operationRunObserver(
  db: Database,
  metrics: Pick<Metrics, "operationRuns" | "operationDurations">,
  logger: Logger,
): (report: RunReport) => void {
  const observeDuration = async (operationId: string, startedAtMs: number) => {
    const [row] = await db
      .select({
        type: operations.type,
        state: operations.state,
        createdAt: operations.createdAt,
        finishedAt: operations.finishedAt,
      })
      .from(operations)
      .where(eq(operations.id, operationId));
    if (!row?.finishedAt || row.finishedAt.getTime() < startedAtMs - CLOCK_TOLERANCE_MS) return;
    const seconds = Math.max(0, (row.finishedAt.getTime() - row.createdAt.getTime()) / 1000);
    metrics.operationDurations.observe({ type: row.type, state: row.state }, seconds);
  };

  return ({ operationId, startedAtMs, outcome }) => {
    metrics.operationRuns.inc({ outcome: outcome.kind === "finished" ? outcome.state : outcome.kind });
    if (outcome.kind !== "finished") return;
    observeDuration(operationId, startedAtMs).catch((err: unknown) =>
      logger.debug({ err, operationId }, "operation duration not observed"),
    );
  };
}

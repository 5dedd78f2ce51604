import { inArray, sql } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { operations } from "../db/schema/index.js";

/** Finished children counted for a destination's rate: the recent past, so the estimate follows changes. */
const RATE_WINDOW_SECONDS = 120;

/**
 * Seconds left for each running bulk operation, from each destination's own rate: children of a destination
 * finished in the last two minutes (or since its first child started, when that is more recent) give its
 * rate, its unfinished children divided by that rate its time left, and the slowest destination the answer
 * (destinations work in parallel). No estimate until every destination with work left has finished a child.
 */
export async function secondsLeft(db: Queryable, parentIds: readonly string[]): Promise<Map<string, number>> {
  const estimates = new Map<string, number>();
  if (parentIds.length === 0) return estimates;
  const rows = await db
    .select({
      parentId: operations.parentId,
      remaining: sql<number>`count(*) filter (where ${operations.state} in ('queued', 'running'))::int`,
      recent: sql<number>`count(*) filter (where ${operations.state} in ('succeeded', 'failed')
        and ${operations.finishedAt} > now() - make_interval(secs => ${RATE_WINDOW_SECONDS}))::int`,
      window: sql<number>`least(${RATE_WINDOW_SECONDS}::float8,
        extract(epoch from now() - min(${operations.startedAt}))::float8)`,
    })
    .from(operations)
    .where(inArray(operations.parentId, [...parentIds]))
    .groupBy(operations.parentId, operations.kmsId);
  const unknown = new Set<string>();
  for (const row of rows) {
    if (!row.parentId || row.remaining === 0) continue;
    const window = Number(row.window);
    if (row.recent === 0 || !(window > 0)) {
      unknown.add(row.parentId);
      continue;
    }
    const left = Math.ceil(row.remaining / (row.recent / window));
    estimates.set(row.parentId, Math.max(estimates.get(row.parentId) ?? 0, left));
  }
  for (const id of unknown) estimates.delete(id);
  return estimates;
}

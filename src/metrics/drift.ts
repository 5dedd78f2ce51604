import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { DRIFT_KINDS } from "../operations/reconcile-compare.js";

/** The finding kinds, as the reconcile processor defines them. */
export { DRIFT_KINDS };

export interface DriftFound {
  kms: string;
  /** When the reconcile finished (seconds since the epoch). */
  finishedAt: number | null;
  /** Every kind, 0 when the reconcile found none of it (or recorded no counts). */
  counts: Record<(typeof DRIFT_KINDS)[number], number>;
}

/**
 * "The drift found" for each destination: the counts of the latest succeeded reconcile operation of each kms,
 * read from its `compare@<kms>` step's result. Destinations never reconciled are absent.
 */
export async function latestDrift(db: Database): Promise<DriftFound[]> {
  const result = await db.execute<{ kms: string; finished_at: number | null; counts: unknown }>(sql`
    select k.name as kms,
           extract(epoch from o.finished_at)::float8 as finished_at,
           s.detail -> 'result' -> 'counts' as counts
    from kms k
    join lateral (
      select id, finished_at from operations
      where kms_id = k.id and type = 'reconcile' and state = 'succeeded'
      order by finished_at desc nulls last, created_at desc
      limit 1
    ) o on true
    left join operation_steps s on s.operation_id = o.id and s.name = 'compare@' || k.name`);
  return result.rows.map((row) => ({
    kms: row.kms,
    finishedAt: row.finished_at,
    counts: countsOf(row.counts),
  }));
}

function countsOf(recorded: unknown): DriftFound["counts"] {
  const source =
    typeof recorded === "object" && recorded !== null ? (recorded as Record<string, unknown>) : {};
  const counts = {} as DriftFound["counts"];
  for (const kind of DRIFT_KINDS) {
    const n = source[kind];
    counts[kind] = typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : 0;
  }
  return counts;
}

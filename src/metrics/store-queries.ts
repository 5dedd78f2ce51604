import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";

/** The scrape-time reads of PostgreSQL behind the API's store collectors; each is one small query. */

export type OperationCount = { type: string; state: string; count: number };

export async function operationCounts(db: Database): Promise<OperationCount[]> {
  const result = await db.execute<OperationCount>(
    sql`select type, state, count(*)::int as count from operations group by type, state`,
  );
  return result.rows;
}

/** Rows waiting in a table and the age of the oldest, in seconds (0 when empty). */
export interface Backlog {
  rows: number;
  oldestAgeSeconds: number;
}

/** Accepted operations not yet handed to the queue. */
export async function outboxBacklog(db: Database): Promise<Backlog> {
  const result = await db.execute<{ rows: number; age: number }>(sql`
    select count(*)::int as rows,
           coalesce(greatest(0, extract(epoch from now() - min(created_at))), 0)::float8 as age
    from outbox`);
  const row = result.rows[0];
  return { rows: row?.rows ?? 0, oldestAgeSeconds: row?.age ?? 0 };
}

/** Ledger events recorded but not chained yet. */
export async function ledgerBacklog(db: Database): Promise<Backlog> {
  const result = await db.execute<{ rows: number; age: number }>(sql`
    select count(*)::int as rows,
           coalesce(greatest(0, extract(epoch from now() - min(recorded_at))), 0)::float8 as age
    from ledger_pending`);
  const row = result.rows[0];
  return { rows: row?.rows ?? 0, oldestAgeSeconds: row?.age ?? 0 };
}

export async function ledgerHeadSeq(db: Database): Promise<number> {
  const result = await db.execute<{ seq: string | null }>(sql`select max(seq) as seq from ledger_entries`);
  return Number(result.rows[0]?.seq ?? 0);
}

/**
 * How long each entry after `afterSeq` waited between being recorded and being chained, in seq order.
 * Chainers hold one lock until they commit, so seqs become visible in order and a cursor misses none.
 */
export async function ledgerWaitsAfter(
  db: Database,
  afterSeq: number,
  limit: number,
): Promise<Array<{ seq: number; waitSeconds: number }>> {
  const result = await db.execute<{ seq: string; wait: number }>(sql`
    select seq, greatest(0, extract(epoch from chained_at - recorded_at))::float8 as wait
    from ledger_entries where seq > ${afterSeq} order by seq limit ${limit}`);
  return result.rows.map((row) => ({ seq: Number(row.seq), waitSeconds: row.wait }));
}

import { and, asc, desc, eq, gt, inArray, isNull, ne, sql } from "drizzle-orm";
import type { Database } from "../../db/client.js";
import {
  distributions,
  distributionVersions,
  keys,
  kms,
  ledgerEntries,
  operations,
} from "../../db/schema/index.js";
import { type OperationView, operationViews } from "../views.js";

/**
 * The reads behind `GET /v1/overview` (the dashboard's one poll). Every list has a limit: the answer's
 * size and cost do not grow with the number of keys, operations or ledger entries beyond these.
 */
export const OVERVIEW_LIMITS = {
  keys: 200,
  destinations: 50,
  inFlight: 20,
  recentlyFinished: 10,
  failures: 15,
  ledgerEntries: 15,
} as const;

/** Finished operations stay in the operations panel this long, so a bar is seen reaching its end. */
const RECENTLY_FINISHED = sql`interval '60 seconds'`;
/**
 * Lists of finished operations look only at those created in the last day, so that the (state, created_at)
 * index bounds the rows read however long the history is.
 */
const LAST_DAY = sql`now() - interval '24 hours'`;

export interface OverviewCounts {
  keys: number;
  destinations: number;
  copies: number;
  inFlight: number;
  failedLastDay: number;
}

export async function readCounts(db: Database): Promise<OverviewCounts> {
  const result = await db.execute<Record<keyof OverviewCounts, number>>(sql`
    select
      (select count(*)::int from ${keys} where ${keys.state} <> 'deleted') as "keys",
      (select count(*)::int from ${kms}) as "destinations",
      (select count(*)::int from ${distributions} where ${distributions.state} <> 'removed') as "copies",
      (select count(*)::int from ${operations}
        where ${operations.state} in ('queued', 'running') and ${operations.parentId} is null) as "inFlight",
      (select count(*)::int from ${operations}
        where ${operations.state} = 'failed' and ${operations.createdAt} > ${LAST_DAY})
        as "failedLastDay"`);
  const row = result.rows[0];
  return {
    keys: row?.keys ?? 0,
    destinations: row?.destinations ?? 0,
    copies: row?.copies ?? 0,
    inFlight: row?.inFlight ?? 0,
    failedLastDay: row?.failedLastDay ?? 0,
  };
}

export interface MatrixCell {
  key: string;
  kms: string;
  state: string;
  /** The highest version the copy holds (not removed), or null while none has arrived. */
  version: number | null;
}

export interface Matrix {
  keys: Array<{ name: string; type: string; state: string; latestVersion: number }>;
  destinations: Array<{ name: string; provider: string }>;
  /** One per key and destination that has or had a copy: the live copy, else the last removed one. */
  cells: MatrixCell[];
  keysTotal: number;
}

export async function readMatrix(db: Database, keysTotal: number): Promise<Matrix> {
  const keyRows = await db
    .select({ id: keys.id, name: keys.name, type: keys.type, state: keys.state, latest: keys.latestVersion })
    .from(keys)
    .where(ne(keys.state, "deleted"))
    .orderBy(asc(keys.name))
    .limit(OVERVIEW_LIMITS.keys);
  const kmsRows = await db
    .select({ id: kms.id, name: kms.name, provider: kms.provider })
    .from(kms)
    .orderBy(asc(kms.name))
    .limit(OVERVIEW_LIMITS.destinations);
  const matrix: Matrix = {
    keys: keyRows.map((k) => ({ name: k.name, type: k.type, state: k.state, latestVersion: k.latest })),
    destinations: kmsRows.map((d) => ({ name: d.name, provider: d.provider })),
    cells: [],
    keysTotal,
  };
  if (keyRows.length === 0 || kmsRows.length === 0) return matrix;
  const copies = await db
    .selectDistinctOn([distributions.keyId, distributions.kmsId], {
      id: distributions.id,
      keyId: distributions.keyId,
      kmsId: distributions.kmsId,
      state: distributions.state,
    })
    .from(distributions)
    .where(
      and(
        inArray(
          distributions.keyId,
          keyRows.map((k) => k.id),
        ),
        inArray(
          distributions.kmsId,
          kmsRows.map((d) => d.id),
        ),
      ),
    )
    .orderBy(
      distributions.keyId,
      distributions.kmsId,
      desc(sql`${distributions.state} <> 'removed'`),
      desc(distributions.updatedAt),
    );
  if (copies.length === 0) return matrix;
  const highest = await db
    .select({
      id: distributionVersions.distributionId,
      version: sql<number>`max(${distributionVersions.version})`,
    })
    .from(distributionVersions)
    .where(
      and(
        inArray(
          distributionVersions.distributionId,
          copies.map((c) => c.id),
        ),
        ne(distributionVersions.state, "removed"),
      ),
    )
    .groupBy(distributionVersions.distributionId);
  const versionOf = new Map(highest.map((h) => [h.id, Number(h.version)]));
  const keyName = new Map(keyRows.map((k) => [k.id, k.name]));
  const kmsName = new Map(kmsRows.map((d) => [d.id, d.name]));
  matrix.cells = copies.map((c) => ({
    key: keyName.get(c.keyId) ?? "",
    kms: kmsName.get(c.kmsId) ?? "",
    state: c.state,
    version: versionOf.get(c.id) ?? null,
  }));
  return matrix;
}

/** Top-level operations queued or running, then those finished in the last minute (newest first). */
export async function readOperationsInFlight(db: Database): Promise<OperationView[]> {
  const inFlight = await db
    .select()
    .from(operations)
    .where(and(inArray(operations.state, ["queued", "running"]), isNull(operations.parentId)))
    .orderBy(desc(operations.createdAt))
    .limit(OVERVIEW_LIMITS.inFlight);
  const finished = await db
    .select()
    .from(operations)
    .where(
      and(
        inArray(operations.state, ["succeeded", "failed", "canceled"]),
        isNull(operations.parentId),
        gt(operations.createdAt, LAST_DAY),
        gt(operations.finishedAt, sql`now() - ${RECENTLY_FINISHED}`),
      ),
    )
    .orderBy(desc(operations.finishedAt))
    .limit(OVERVIEW_LIMITS.recentlyFinished);
  return operationViews(db, [...inFlight, ...finished]);
}

/** The newest failed top-level operations of the last day, with their errors and steps. */
export async function readFailures(db: Database): Promise<OperationView[]> {
  const rows = await db
    .select()
    .from(operations)
    .where(
      and(eq(operations.state, "failed"), isNull(operations.parentId), gt(operations.createdAt, LAST_DAY)),
    )
    .orderBy(desc(operations.createdAt))
    .limit(OVERVIEW_LIMITS.failures);
  return operationViews(db, rows);
}

export interface LedgerLine {
  seq: number;
  recordedAt: string;
  event: string;
  operationId: string | null;
  key: string | null;
  kms: string | null;
  actor: string | null;
}

/** The newest chained ledger entries, newest first, without their data (the ledger route has it). */
export async function readLatestLedger(db: Database): Promise<LedgerLine[]> {
  const rows = await db
    .select({
      seq: ledgerEntries.seq,
      recordedAt: ledgerEntries.recordedAt,
      event: ledgerEntries.event,
      operationId: ledgerEntries.operationId,
      key: ledgerEntries.keyName,
      kms: ledgerEntries.kmsName,
      actor: ledgerEntries.actor,
    })
    .from(ledgerEntries)
    .orderBy(desc(ledgerEntries.seq))
    .limit(OVERVIEW_LIMITS.ledgerEntries);
  return rows.map((r) => ({ ...r, recordedAt: r.recordedAt.toISOString() }));
}

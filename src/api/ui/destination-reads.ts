import { and, asc, eq, inArray, like, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.js";
import { kms, ledgerEntries, operationSteps, operations } from "../../db/schema/index.js";
import type { QueueStats } from "../../queue/queue-stats.js";
import { OVERVIEW_LIMITS } from "./overview-reads.js";

/**
 * Per-destination figures for the dashboard: backlog (operations queued or running there), pace (steps
 * finished in the last minute), throttling (throttled steps in the last five minutes), the shared limiter's
 * state, and the drift the latest reconcile found.
 */

/**
 * Pace and throttling are counted over the newest ledger entries only: a primary-key range, so a poll
 * costs the same however long the ledger is. On a very busy system the figures undercount, never cost more.
 */
const LEDGER_WINDOW = 5_000;
const MAX_FINDINGS = 20;

export interface DestinationActivity {
  name: string;
  provider: string;
  queued: number;
  running: number;
  stepsLastMinute: number;
  throttledLast5m: number;
  lastThrottledAt: string | null;
  /** Overrides set on the destination (`options.rateLimitPerSecond`, `options.concurrency`), if any. */
  rateLimitPerSecond: number | null;
  concurrency: number | null;
  /** From the shared limiter in Redis: null when the queue side did not answer. */
  slotsInUse: number | null;
  buckets: Record<string, number> | null;
}

const numberOrNull = (value: unknown): number | null => (typeof value === "number" ? value : null);

export async function readDestinationActivity(
  db: Database,
  limiter: QueueStats["destinations"] | null,
): Promise<DestinationActivity[]> {
  const rows = await db
    .select({ id: kms.id, name: kms.name, provider: kms.provider, options: kms.options })
    .from(kms)
    .orderBy(asc(kms.name))
    .limit(OVERVIEW_LIMITS.destinations);
  if (rows.length === 0) return [];
  // Rotations and updates fan out with no kms on the operation: they are not in the backlog figure.
  const backlog = await db
    .select({ kmsId: operations.kmsId, state: operations.state, count: sql<number>`count(*)::int` })
    .from(operations)
    .where(
      and(
        inArray(operations.state, ["queued", "running"]),
        inArray(
          operations.kmsId,
          rows.map((r) => r.id),
        ),
      ),
    )
    .groupBy(operations.kmsId, operations.state);
  // Step entries of fan-out operations carry no kms name: the step name ("rotate@aws-prod") says it.
  const activity = await db.execute<{
    kms: string;
    steps: number;
    throttled: number;
    last_throttled_at: Date | string | null;
  }>(sql`
    select coalesce(${ledgerEntries.kmsName}, substring(${ledgerEntries.data}->>'step' from '@(.*)$')) as kms,
      count(*) filter (where ${ledgerEntries.event} = 'step.succeeded'
        and ${ledgerEntries.recordedAt} > now() - interval '60 seconds')::int as steps,
      count(*) filter (where ${ledgerEntries.event} = 'step.throttled'
        and ${ledgerEntries.recordedAt} > now() - interval '5 minutes')::int as throttled,
      max(${ledgerEntries.recordedAt}) filter (where ${ledgerEntries.event} = 'step.throttled')
        as last_throttled_at
    from ${ledgerEntries}
    where ${ledgerEntries.seq} > (select coalesce(max(${ledgerEntries.seq}), 0) - ${LEDGER_WINDOW} from ${ledgerEntries})
      and ${ledgerEntries.event} in ('step.succeeded', 'step.throttled')
    group by 1`);
  const pace = new Map(activity.rows.map((r) => [r.kms, r]));
  return rows.map((row) => {
    const count = (state: string) => backlog.find((b) => b.kmsId === row.id && b.state === state)?.count ?? 0;
    const seen = pace.get(row.name);
    const limits = limiter?.[row.name];
    const lastThrottled = seen?.last_throttled_at ?? null;
    return {
      name: row.name,
      provider: row.provider,
      queued: count("queued"),
      running: count("running"),
      stepsLastMinute: seen?.steps ?? 0,
      throttledLast5m: seen?.throttled ?? 0,
      lastThrottledAt: lastThrottled === null ? null : new Date(lastThrottled).toISOString(),
      rateLimitPerSecond: numberOrNull(row.options.rateLimitPerSecond),
      concurrency: numberOrNull(row.options.concurrency),
      slotsInUse: limiter === null ? null : (limits?.slotsInUse ?? 0),
      buckets: limiter === null ? null : (limits?.buckets ?? {}),
    };
  });
}

/** The `result` of a reconcile's `compare@<kms>` step (shared-shapes.md), read leniently. */
export const findingSchema = z.object({
  kind: z.string(),
  key: z.string().optional(),
  version: z.number().optional(),
  remoteId: z.string().optional(),
  message: z.string(),
  healed: z.boolean().optional(),
});
const compareResultSchema = z.object({
  findings: z.array(z.unknown()).default([]),
  counts: z.record(z.string(), z.number()).default({}),
});

export interface DriftReport {
  kms: string;
  operationId: string;
  checkedAt: string;
  counts: Record<string, number>;
  findings: Array<z.infer<typeof findingSchema>>;
  findingsTotal: number;
}

/** The latest succeeded reconcile of each destination and what its compare step found. */
export async function readDrift(db: Database): Promise<DriftReport[]> {
  const latest = await db
    .selectDistinctOn([operations.kmsId], {
      id: operations.id,
      kmsName: kms.name,
      finishedAt: operations.finishedAt,
      updatedAt: operations.updatedAt,
    })
    .from(operations)
    .innerJoin(kms, eq(kms.id, operations.kmsId))
    .where(and(eq(operations.type, "reconcile"), eq(operations.state, "succeeded")))
    .orderBy(
      operations.kmsId,
      sql`${operations.finishedAt} desc nulls last`,
      sql`${operations.createdAt} desc`,
    )
    .limit(OVERVIEW_LIMITS.destinations);
  if (latest.length === 0) return [];
  const steps = await db
    .select({ operationId: operationSteps.operationId, detail: operationSteps.detail })
    .from(operationSteps)
    .where(
      and(
        inArray(
          operationSteps.operationId,
          latest.map((l) => l.id),
        ),
        like(operationSteps.name, "compare@%"),
      ),
    );
  return latest.map((op) => {
    const report: DriftReport = {
      kms: op.kmsName,
      operationId: op.id,
      checkedAt: (op.finishedAt ?? op.updatedAt).toISOString(),
      counts: {},
      findings: [],
      findingsTotal: 0,
    };
    for (const step of steps.filter((s) => s.operationId === op.id)) {
      const parsed = compareResultSchema.safeParse(step.detail.result);
      if (!parsed.success) continue;
      for (const [kind, n] of Object.entries(parsed.data.counts)) {
        report.counts[kind] = (report.counts[kind] ?? 0) + n;
      }
      report.findingsTotal += parsed.data.findings.length;
      for (const raw of parsed.data.findings) {
        const finding = findingSchema.safeParse(raw);
        if (finding.success && report.findings.length < MAX_FINDINGS) report.findings.push(finding.data);
      }
    }
    return report;
  });
}

import { asc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { z } from "zod";
import type { Queryable } from "../db/client.js";
import {
  distributions,
  distributionVersions,
  keys,
  kms,
  operationSteps,
  operations,
} from "../db/schema/index.js";
import { namesOf } from "./lookups.js";
import { secondsLeft } from "./progress-eta.js";
import type { distributionSchema, operationSchema, stepSchema } from "./schemas.js";

/** Rows → API answers (SPEC section 5). Nothing sealed, no credentials, no step journals. */

type OperationRow = typeof operations.$inferSelect;
export type OperationView = z.infer<typeof operationSchema>;
export type DistributionView = z.infer<typeof distributionSchema>;
type StepView = z.infer<typeof stepSchema>;

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

/**
 * A step's `detail` is the operations engine's journal (what a retry needs to resume). Only its `result`
 * (the step's outcome, written for people) is shown: the journal's other entries are internals.
 */
function stepDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const result = detail.result;
  if (result !== null && typeof result === "object" && !Array.isArray(result)) {
    return { result: result as Record<string, unknown> };
  }
  return result === undefined ? {} : { result };
}

/** Operation answers, with their steps, names and (for bulk parents) progress, in few queries. */
export async function operationViews(db: Queryable, rows: readonly OperationRow[]): Promise<OperationView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  // One after the other: `db` may be a transaction, whose single connection must not run queries at once.
  const steps = await db
    .select()
    .from(operationSteps)
    .where(inArray(operationSteps.operationId, ids))
    .orderBy(asc(operationSteps.ordinal));
  const keyNames = await namesOf(
    db,
    keys,
    rows.flatMap((r) => (r.keyId ? [r.keyId] : [])),
  );
  const kmsNames = await namesOf(
    db,
    kms,
    rows.flatMap((r) => (r.kmsId ? [r.kmsId] : [])),
  );
  const children = await db
    .select({ parentId: operations.parentId, state: operations.state, count: sql<number>`count(*)::int` })
    .from(operations)
    .where(inArray(operations.parentId, ids))
    .groupBy(operations.parentId, operations.state);
  const stepsOf = new Map<string, StepView[]>();
  for (const step of steps) {
    const list = stepsOf.get(step.operationId) ?? [];
    list.push({
      name: step.name,
      state: step.state,
      attempts: step.attempts,
      startedAt: iso(step.startedAt),
      finishedAt: iso(step.finishedAt),
      detail: stepDetail(step.detail),
    });
    stepsOf.set(step.operationId, list);
  }
  const progressOf = new Map<string, { done: number; failed: number; total: number; etaSeconds?: number }>();
  for (const child of children) {
    if (!child.parentId) continue;
    const p = progressOf.get(child.parentId) ?? { done: 0, failed: 0, total: 0 };
    p.total += child.count;
    if (child.state === "succeeded") p.done += child.count;
    if (child.state === "failed" || child.state === "canceled") p.failed += child.count;
    progressOf.set(child.parentId, p);
  }
  const running = rows.filter((r) => r.state === "running" && progressOf.has(r.id)).map((r) => r.id);
  for (const [id, etaSeconds] of await secondsLeft(db, running)) {
    const p = progressOf.get(id);
    if (p && p.done + p.failed < p.total) p.etaSeconds = etaSeconds;
  }
  return rows.map((row) => {
    const key = row.keyId ? keyNames.get(row.keyId) : undefined;
    const kmsName = row.kmsId ? kmsNames.get(row.kmsId) : undefined;
    const progress = progressOf.get(row.id);
    return {
      id: row.id,
      type: row.type,
      state: row.state,
      ...(key !== undefined ? { key } : {}),
      ...(kmsName !== undefined ? { kms: kmsName } : {}),
      ...(row.parentId ? { parentId: row.parentId } : {}),
      steps: stepsOf.get(row.id) ?? [],
      ...(progress ? { progress } : {}),
      ...(row.error
        ? {
            error: {
              code: row.error.code,
              message: row.error.message,
              ...(row.error.retryable !== undefined ? { retryable: row.error.retryable } : {}),
            },
          }
        : {}),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  });
}

export async function operationView(db: Queryable, row: OperationRow): Promise<OperationView> {
  const [view] = await operationViews(db, [row]);
  if (!view) throw new Error("operation view missing");
  return view;
}

/** The copies matching `where`, as answers. */
export async function distributionViews(db: Queryable, where: SQL | undefined): Promise<DistributionView[]> {
  const rows = await db
    .select({ d: distributions, keyName: keys.name, kmsName: kms.name, provider: kms.provider })
    .from(distributions)
    .innerJoin(keys, eq(keys.id, distributions.keyId))
    .innerJoin(kms, eq(kms.id, distributions.kmsId))
    .where(where)
    .orderBy(asc(keys.name), asc(kms.name));
  if (rows.length === 0) return [];
  const versions = await db
    .select()
    .from(distributionVersions)
    .where(
      inArray(
        distributionVersions.distributionId,
        rows.map((r) => r.d.id),
      ),
    )
    .orderBy(asc(distributionVersions.version));
  return rows.map(({ d, keyName, kmsName, provider }) => {
    const own = versions.filter((v) => v.distributionId === d.id);
    return {
      key: keyName,
      kms: kmsName,
      provider,
      remoteName: d.remoteName,
      purposes: d.purposes,
      protection: d.protection,
      state: d.state,
      versions: Object.fromEntries(own.map((v) => [String(v.version), v.remoteId])),
      versionStates: Object.fromEntries(own.map((v) => [String(v.version), v.state])),
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
    };
  });
}

const UNITS: ReadonlyArray<[string, number]> = [
  ["w", 604_800],
  ["d", 86_400],
  ["h", 3_600],
  ["m", 60],
  ["s", 1],
];

export function parseRotationPeriod(text: string): number {
  const unit = text.slice(-1);
  const factor = UNITS.find(([u]) => u === unit)?.[1] ?? 1;
  return Number.parseInt(text.slice(0, -1), 10) * factor;
}

/** Seconds → the largest whole unit ("90d", "12h"). */
export function formatRotationPeriod(seconds: number): string {
  for (const [unit, factor] of UNITS) if (seconds % factor === 0) return `${seconds / factor}${unit}`;
  return `${seconds}s`;
}

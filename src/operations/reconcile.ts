import { and, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { operationSteps, operations } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { appendToLedger } from "../ledger/append.js";
import { destinationStep, type OperationContext, type OperationRow } from "./context.js";
import { requireKms } from "./distribute.js";
import { type CompareResult, compareDestination, type Finding, loadLedgerView } from "./reconcile-compare.js";
import { driftEvent, type HealOutcome, healCopy } from "./reconcile-heal.js";
import { disableUntracked } from "./reconcile-untracked.js";

/**
 * reconcile (drift detection and repair of one destination, SPEC section 5):
 * `compare@<kms>` records the findings (reconcile-compare.ts; its result is what the dashboard and /metrics
 * read as the drift of the destination). With `heal`: `heal:<key>@<kms>` per copy with findings
 * (reconcile-heal.ts) and `disable-untracked@<kms>` (reconcile-untracked.ts), then `recheck@<kms>` compares
 * again, and each finding of the compare step is marked `healed` when its repair succeeded and the recheck
 * no longer finds it.
 *
 * The operation has no key, so the engine does not serialize it with the operations of the keys it touches:
 * keys with queued or running operations are skipped (and heal steps look again before they act), and
 * reconciles of one destination run one at a time (`reconcileWait`).
 */

const reconcileInput = z.strictObject({ heal: z.boolean(), scheduled: z.boolean().optional() });

/** How long a reconcile waits for an earlier one of the same destination before asking again. */
const WAIT_FOR_EARLIER_MS = 2_000;

export async function processReconcile(ctx: OperationContext): Promise<void> {
  const kmsId = requireKms(ctx);
  const kmsName = ctx.kmsName ?? kmsId;
  const parsed = reconcileInput.safeParse(ctx.operation.input);
  if (!parsed.success) {
    throw new InvalidInputError("operation_input_invalid", "reconcile input is not valid", {
      fields: parsed.error.issues.map((i) => i.path.join(".")),
    });
  }
  const { db } = ctx.deps;

  const found = await destinationStep(ctx, "compare", kmsId, kmsName, async (call) => {
    const result = await compareDestination(call, await loadLedgerView(db, kmsId));
    await db.transaction((tx) =>
      appendToLedger(tx, [
        ...result.findings.map((f) => driftEvent(ctx, kmsName, f.key ?? null, "drift.found", f)),
        {
          event: "drift.compared",
          operationId: ctx.operation.id,
          kmsName,
          actor: "worker",
          data: { counts: result.counts, copies: result.copies, skipped: result.skipped.length },
        },
      ]),
    );
    return result;
  });
  if (!parsed.data.heal || found.findings.length === 0) return;

  const outcomes: HealOutcome[] = [];
  const byKey = new Map<string, Finding[]>();
  for (const finding of found.findings) {
    if (finding.kind === "untracked" || finding.key === undefined) continue;
    byKey.set(finding.key, [...(byKey.get(finding.key) ?? []), finding]);
  }
  for (const [keyName, findings] of byKey)
    outcomes.push(await healCopy(ctx, kmsId, kmsName, keyName, findings));
  const untracked = found.findings.filter((f) => f.kind === "untracked");
  const untrackedOutcome =
    untracked.length > 0 ? await disableUntracked(ctx, kmsId, kmsName, untracked) : undefined;

  const remaining = await destinationStep(ctx, "recheck", kmsId, kmsName, async (call) =>
    compareDestination(call, await loadLedgerView(db, kmsId)),
  );
  const repaired = (finding: Finding): boolean => {
    if (finding.kind === "untracked") {
      return untrackedOutcome?.disabled.some((d) => d.remoteId === finding.remoteId) === true;
    }
    const outcome = outcomes.find((o) => o.key === finding.key);
    return (
      outcome?.healed.some(
        (h) => h.kind === finding.kind && h.version === finding.version && h.remoteId === finding.remoteId,
      ) === true
    );
  };
  const stillThere = (finding: Finding) =>
    remaining.findings.some(
      (r) =>
        r.kind === finding.kind &&
        r.key === finding.key &&
        r.version === finding.version &&
        (r.kind !== "extra_version" && r.kind !== "untracked" ? true : r.remoteId === finding.remoteId),
    );
  const annotated: CompareResult = {
    ...found,
    findings: found.findings.map((f) => ({ ...f, healed: repaired(f) && !stillThere(f) })),
  };
  await annotateCompare(ctx, `compare@${kmsName}`, annotated, kmsName);
}

/**
 * The compare step's findings get their `healed` flags once the repairs are done: that step's result is "the
 * drift found" for the destination. Written with a ledger entry, in one transaction; repeating it is harmless.
 */
async function annotateCompare(
  ctx: OperationContext,
  stepName: string,
  result: CompareResult,
  kmsName: string,
): Promise<void> {
  const healed = result.findings.filter((f) => f.healed).length;
  await ctx.deps.db.transaction(async (tx) => {
    await tx
      .update(operationSteps)
      .set({
        detail: sql`jsonb_set(${operationSteps.detail}, '{result}', ${JSON.stringify(result)}::jsonb)`,
      })
      .where(and(eq(operationSteps.operationId, ctx.operation.id), eq(operationSteps.name, stepName)));
    await appendToLedger(tx, {
      event: "drift.heal-finished",
      operationId: ctx.operation.id,
      kmsName,
      actor: "worker",
      data: { findings: result.findings.length, healed, unhealed: result.findings.length - healed },
    });
  });
}

/**
 * Reconciles of one destination run one at a time, in the order they were accepted: two heals at once would
 * each repair the same drift under their own operation id, and so each import its own copy.
 */
export async function reconcileWait(
  { db }: { db: Database },
  operation: OperationRow,
): Promise<number | undefined> {
  if (!operation.kmsId) return undefined;
  const earlier = await db
    .select({ id: operations.id })
    .from(operations)
    .where(
      and(
        eq(operations.type, "reconcile"),
        eq(operations.kmsId, operation.kmsId),
        inArray(operations.state, ["queued", "running"]),
        sql`${operations.id} <> ${operation.id}`,
        sql`(${operations.createdAt}, ${operations.id}) < (select created_at, id from ${operations} where id = ${operation.id})`,
      ),
    )
    .limit(1);
  return earlier.length > 0 ? WAIT_FOR_EARLIER_MS : undefined;
}

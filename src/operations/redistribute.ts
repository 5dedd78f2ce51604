import { and, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operationSteps, operations } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import { appendToLedger } from "../ledger/append.js";
import { DEFAULT_BULK_WINDOW, releaseChildren } from "./bulk-release.js";
import type { OperationRow } from "./context.js";
import { destinationStep, type OperationContext, record } from "./context.js";
import type { EngineDependencies } from "./engine.js";
import { ChildrenPendingError, OperationCanceledError } from "./errors.js";
import { acceptOperations } from "./intake.js";
import { type RedistributeInput, redistributeInputSchema } from "./redistribute-input.js";
import { planBatch } from "./redistribute-plan.js";

/** Keys looked at per planning transaction. */
export const PLAN_BATCH_KEYS = 200;
/** How often a parent looks at its children while they run (the look is one indexed count). */
export const CHILDREN_POLL_MS = 2_000;
const UNFINISHED = ["queued", "running"] as const;

/**
 * redistribute (disaster recovery, SPEC section 5): `prepare-batch@<kms>` (what the run's imports share, such
 * as one Azure KEK per vault) → `plan` (one `distribute` child per key × destination, accepted held, in
 * batches, each with its ledger entry; resumable from the last batch) → the children are released into the
 * queue a window at a time per destination (bulk-release.ts) and run as ordinary operations in the bulk lane
 * → `finish-batch@<kms>` (the shared KEK is deleted) → the parent succeeds, or fails naming how many children
 * failed (`POST /v1/operations/{id}/retry` re-runs those only).
 */
export async function processRedistribute(ctx: OperationContext): Promise<void> {
  const input = parseInput(ctx.operation);
  const parentId = ctx.operation.id;

  for (const destination of input.to) {
    await destinationStep(ctx, "prepare-batch", destination.id, destination.name, async (call) => {
      if (!call.provider.prepareBatch) return { shared: false };
      await call.provider.prepareBatch(call.providerContext, call.loaded.destination, parentId);
      return { shared: true };
    });
  }

  await ctx.step("plan", async ({ journal }) => {
    const cursor = journal.get("cursor") ?? {};
    let after = typeof cursor.after === "string" ? cursor.after : undefined;
    let children = typeof cursor.children === "number" ? cursor.children : 0;
    let skipped = typeof cursor.skipped === "number" ? cursor.skipped : 0;
    for (;;) {
      const batch = await ctx.deps.db.transaction(async (tx) => {
        // The parent's row lock orders planning against a cancel, which stops it between batches.
        const [parent] = await tx
          .select({ cancelRequestedAt: operations.cancelRequestedAt })
          .from(operations)
          .where(eq(operations.id, parentId))
          .for("update");
        if (!parent || parent.cancelRequestedAt) return undefined;
        const planned = await planBatch(tx, parentId, input, after, PLAN_BATCH_KEYS);
        await acceptOperations(
          tx,
          planned.children.map((child) => ({
            type: "distribute" as const,
            keyId: child.keyId,
            kmsId: child.kmsId,
            parentId,
            input: { purposes: child.purposes, protection: child.protection },
            requestedBy: ctx.operation.requestedBy,
            actor: "worker",
            keyName: child.keyName,
            kmsName: child.kmsName,
            held: true,
          })),
        );
        return planned;
      });
      if (!batch) break;
      if (batch.children.length > 0) await release(ctx.deps, parentId);
      children += batch.children.length;
      skipped += batch.skipped;
      if (batch.lastKeyName === undefined) break;
      after = batch.lastKeyName;
      await journal.put("cursor", { after, children, skipped });
      ctx.logger.debug({ children, skipped }, "redistribution planned a batch");
    }
    await ctx.deps.db.transaction((tx) =>
      record(ctx, tx, "redistribution.planned", { children, skipped, to: input.to.map((d) => d.name) }),
    );
    return { children, skipped, to: input.to.map((d) => d.name) };
  });

  if ((await unfinishedChildren(ctx.deps.db, parentId)) > 0) throw new ChildrenPendingError(CHILDREN_POLL_MS);

  for (const destination of input.to) {
    await destinationStep(ctx, "finish-batch", destination.id, destination.name, async (call) => {
      if (!call.provider.finishBatch) return { shared: false };
      await call.provider.finishBatch(call.providerContext, call.loaded.destination, parentId);
      return { released: true };
    });
  }

  const counts = await childCounts(ctx.deps.db, parentId);
  const [row] = await ctx.deps.db
    .select({ cancelRequestedAt: operations.cancelRequestedAt })
    .from(operations)
    .where(eq(operations.id, parentId));
  if (row?.cancelRequestedAt) await endCanceled(ctx, counts);
  if (counts.failed > 0) {
    throw new KeyferryError(
      "children_failed",
      `${counts.failed} of ${counts.total} children failed; their errors are in GET /v1/operations?parent=${parentId}&state=failed, and POST /v1/operations/${parentId}/retry re-runs them`,
      { status: 422, details: { ...counts } },
    );
  }
}

/**
 * Asked before a run starts: while the plan is made and children are still running, the parent has nothing
 * to do but wait, and waiting is not a run (it must not count towards the operation's run limit).
 */
export async function redistributeWait(
  deps: EngineDependencies,
  operation: OperationRow,
): Promise<number | undefined> {
  const { db } = deps;
  const [planned] = await db
    .select({ state: operationSteps.state })
    .from(operationSteps)
    .where(and(eq(operationSteps.operationId, operation.id), eq(operationSteps.name, "plan")));
  if (planned?.state !== "succeeded") return undefined;
  // A child whose release was missed (its sibling's worker died before releasing the next) goes now.
  await release(deps, operation.id);
  return (await unfinishedChildren(db, operation.id)) > 0 ? CHILDREN_POLL_MS : undefined;
}

/**
 * Release the next children of a bulk run into the queue, and tell the relay: for the destinations given (a
 * finished child makes room in its own), else for every destination of the run.
 */
export async function release(deps: EngineDependencies, parentId: string, only?: string[]): Promise<void> {
  let kmsIds = only;
  if (!kmsIds) {
    const [parent] = await deps.db
      .select({ input: operations.input })
      .from(operations)
      .where(eq(operations.id, parentId));
    const parsed = redistributeInputSchema.safeParse(parent?.input);
    if (!parsed.success) return;
    kmsIds = parsed.data.to.map((d) => d.id);
  }
  const released = await releaseChildren(deps.db, parentId, kmsIds, deps.bulkWindow ?? DEFAULT_BULK_WINDOW);
  if (released > 0) deps.nudge?.();
}

/** After `POST .../retry`: the run's shared objects are released again when the retried children end. */
export const REDISTRIBUTE_RESET_STEPS = "finish-batch@%";

function parseInput(operation: OperationRow): RedistributeInput {
  const parsed = redistributeInputSchema.safeParse(operation.input);
  if (!parsed.success) {
    throw new InvalidInputError("operation_input_invalid", "redistribute input is not valid", {
      fields: parsed.error.issues.map((i) => i.path.join(".")),
    });
  }
  return parsed.data;
}

async function unfinishedChildren(db: Database, parentId: string): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(operations)
    .where(and(eq(operations.parentId, parentId), inArray(operations.state, [...UNFINISHED])));
  return row?.count ?? 0;
}

interface ChildCounts {
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
}

async function childCounts(db: Database, parentId: string): Promise<ChildCounts> {
  const rows = await db
    .select({ state: operations.state, count: sql<number>`count(*)::int` })
    .from(operations)
    .where(eq(operations.parentId, parentId))
    .groupBy(operations.state);
  const of = (state: string) => rows.find((r) => r.state === state)?.count ?? 0;
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return { total, succeeded: of("succeeded"), failed: of("failed"), canceled: of("canceled") };
}

/** A cancel asked for while the run went on: the children have stopped; the parent ends canceled. */
async function endCanceled(ctx: OperationContext, counts: ChildCounts): Promise<never> {
  await ctx.deps.db.transaction(async (tx) => {
    await tx
      .update(operations)
      .set({ state: "canceled", finishedAt: new Date(), updatedAt: new Date() })
      .where(eq(operations.id, ctx.operation.id));
    await appendToLedger(tx, {
      event: "operation.canceled",
      operationId: ctx.operation.id,
      keyName: null,
      kmsName: null,
      actor: "worker",
      data: { ...counts },
    });
  });
  throw new OperationCanceledError(ctx.operation.id);
}

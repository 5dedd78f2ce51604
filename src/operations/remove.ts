import { eq } from "drizzle-orm";
import { distributions, distributionVersions } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import {
  destinationStep,
  keyToDistribute,
  liveDistribution,
  type OperationContext,
  record,
  requireKey,
} from "./context.js";
import { requireKms } from "./distribute.js";
import { loadRemoteCopy } from "./remote-copies.js";

/**
 * remove: `prepare@<kms>` (state removing) → `remove@<kms>` (the copy stops working and its deletion is
 * scheduled; state removed). The key and its versions stay in keyferry.
 */
export async function processRemove(ctx: OperationContext): Promise<void> {
  const key = requireKey(ctx);
  const kmsId = requireKms(ctx);
  const kmsName = ctx.kmsName ?? kmsId;
  const { db } = ctx.deps;

  const { distributionId } = await ctx.step(`prepare@${kmsName}`, async () => {
    const id = await db.transaction(async (tx) => {
      const existing = await liveDistribution(tx, key.id, kmsId);
      if (!existing) {
        throw new InvalidInputError("not_distributed", `key ${key.name} has no copy in kms ${kmsName}`);
      }
      await tx
        .update(distributions)
        .set({ state: "removing", updatedAt: new Date() })
        .where(eq(distributions.id, existing.id));
      await record(ctx, tx, "distribution.removing", { distributionId: existing.id, from: existing.state });
      return existing.id;
    });
    return { distributionId: id };
  });

  await destinationStep(ctx, "remove", kmsId, kmsName, async (call) => {
    const [distribution] = await db.select().from(distributions).where(eq(distributions.id, distributionId));
    if (!distribution) return { removed: false };
    if (distribution.state !== "removed") {
      const copy = await loadRemoteCopy(db, distribution);
      await call.provider.remove(
        call.providerContext,
        call.loaded.destination,
        keyToDistribute(key, distribution),
        copy,
      );
    }
    await db.transaction(async (tx) => {
      await tx
        .update(distributions)
        .set({ state: "removed", updatedAt: new Date() })
        .where(eq(distributions.id, distributionId));
      await tx
        .update(distributionVersions)
        .set({ state: "removed", updatedAt: new Date() })
        .where(eq(distributionVersions.distributionId, distributionId));
      await record(ctx, tx, "distribution.removed", { distributionId, remoteName: distribution.remoteName });
    });
    return { removed: true, remoteName: distribution.remoteName };
  });
}

import { and, eq, ne } from "drizzle-orm";
import { distributions, keys } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { type OperationContext, record, requireKey } from "./context.js";

/**
 * delete: step `delete-key`, allowed only when the key allows deletion and no copy is live anywhere. The
 * key row goes with its sealed versions and its removed copies' history, so the name can be used again;
 * the ledger keeps everything that happened to it.
 */
export async function processDelete(ctx: OperationContext): Promise<void> {
  const key = requireKey(ctx);
  await ctx.step("delete-key", async () => {
    await ctx.deps.db.transaction(async (tx) => {
      const [current] = await tx.select().from(keys).where(eq(keys.id, key.id)).for("update");
      if (!current) return;
      if (!current.deletionAllowed) {
        throw new InvalidInputError(
          "deletion_not_allowed",
          `key ${key.name} does not allow deletion (set deletionAllowed first)`,
        );
      }
      const live = await tx
        .select({ id: distributions.id })
        .from(distributions)
        .where(and(eq(distributions.keyId, key.id), ne(distributions.state, "removed")));
      if (live.length > 0) {
        throw new InvalidInputError(
          "key_distributed",
          `key ${key.name} still has ${live.length} live distribution(s); remove them first`,
        );
      }
      await tx.delete(distributions).where(eq(distributions.keyId, key.id));
      await tx.delete(keys).where(eq(keys.id, key.id));
      await record(ctx, tx, "key.deleted", { versions: current.latestVersion });
    });
    return { deleted: key.name };
  });
}

import { and, eq } from "drizzle-orm";
import { generateSealedVersion, insertKeyVersion } from "../custody/key-versions.js";
import { keys, keyVersions } from "../db/schema/index.js";
import { type OperationContext, record, requireKey } from "./context.js";

/**
 * create: the API inserted the key row (state `creating`) with the operation. Step `generate` makes
 * version 1, sealed outside any transaction, then stores it and activates the key in one transaction.
 * A retry after that transaction committed finds version 1 and does not generate again.
 */
export async function processCreate(ctx: OperationContext): Promise<void> {
  const { db, ring } = ctx.deps;
  const key = requireKey(ctx);
  await ctx.step("generate", async () => {
    if (await hasVersion(ctx, key.id, 1)) return { version: 1 };
    const sealed = await generateSealedVersion(ring, key, 1);
    await db.transaction(async (tx) => {
      await insertKeyVersion(tx, key.id, sealed);
      await tx
        .update(keys)
        .set({ latestVersion: 1, state: "active", updatedAt: new Date() })
        .where(eq(keys.id, key.id));
      await record(ctx, tx, "key.created", { type: key.type, version: 1 });
    });
    return { version: 1 };
  });
}

export async function hasVersion(ctx: OperationContext, keyId: string, version: number): Promise<boolean> {
  const [row] = await ctx.deps.db
    .select({ version: keyVersions.version })
    .from(keyVersions)
    .where(and(eq(keyVersions.keyId, keyId), eq(keyVersions.version, version)));
  return row !== undefined;
}

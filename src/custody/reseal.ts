import { and, eq, isNotNull, ne } from "drizzle-orm";
import { reseal } from "../crypto/seal.js";
import type { Database } from "../db/client.js";
import { keys, keyVersions, kms } from "../db/schema/index.js";
import { appendToLedger } from "../ledger/append.js";
import type { RootKeyRing } from "./root-keys.js";

export interface ResealResult {
  keyVersions: number;
  kmsCredentials: number;
  /** Values still under another root key: rows a concurrent run held, or written by an old process. */
  remaining: number;
}

/**
 * Root-key rotation: re-seal every sealed value that is not yet under `ring.current`, in small batches of
 * their own transactions, so that it can run while keyferry works and be started again after a crash
 * (what is done is not redone). Rows are taken with SKIP LOCKED so two runs share the work.
 */
export async function resealAll(db: Database, ring: RootKeyRing, batchSize = 100): Promise<ResealResult> {
  const target = ring.current.id;
  const result: ResealResult = { keyVersions: 0, kmsCredentials: 0, remaining: 0 };

  for (;;) {
    const moved = await db.transaction(async (tx) => {
      const rows = await tx
        .select({
          keyId: keyVersions.keyId,
          version: keyVersions.version,
          sealed: keyVersions.sealedMaterial,
          name: keys.name,
        })
        .from(keyVersions)
        .innerJoin(keys, eq(keys.id, keyVersions.keyId))
        .where(ne(keyVersions.rootKeyId, target))
        .limit(batchSize)
        .for("update", { of: keyVersions, skipLocked: true });
      for (const row of rows) {
        const context = { purpose: "key-material", name: row.name, version: row.version } as const;
        await tx
          .update(keyVersions)
          .set({ sealedMaterial: reseal(ring.all, ring.current, row.sealed, context), rootKeyId: target })
          .where(and(eq(keyVersions.keyId, row.keyId), eq(keyVersions.version, row.version)));
      }
      return rows.length;
    });
    result.keyVersions += moved;
    if (moved < batchSize) break;
  }

  for (;;) {
    const moved = await db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: kms.id, name: kms.name, sealed: kms.sealedCredentials })
        .from(kms)
        .where(and(isNotNull(kms.sealedCredentials), ne(kms.credentialsRootKeyId, target)))
        .limit(batchSize)
        .for("update", { skipLocked: true });
      for (const row of rows) {
        if (!row.sealed) continue;
        const context = { purpose: "kms-credentials", name: row.name } as const;
        await tx
          .update(kms)
          .set({
            sealedCredentials: reseal(ring.all, ring.current, row.sealed, context),
            credentialsRootKeyId: target,
          })
          .where(eq(kms.id, row.id));
      }
      return rows.length;
    });
    result.kmsCredentials += moved;
    if (moved < batchSize) break;
  }

  result.remaining =
    (await db.$count(keyVersions, ne(keyVersions.rootKeyId, target))) +
    (await db.$count(kms, and(isNotNull(kms.sealedCredentials), ne(kms.credentialsRootKeyId, target))));
  await appendToLedger(db, {
    event: "root_key.resealed",
    actor: "system",
    data: { rootKeyId: target, ...result },
  });
  return result;
}

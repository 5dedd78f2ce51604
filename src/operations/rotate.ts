import { and, eq } from "drizzle-orm";
import { generateSealedVersion, insertKeyVersion } from "../custody/key-versions.js";
import { keys } from "../db/schema/index.js";
import {
  activeTargets,
  destinationStep,
  keyToDistribute,
  type OperationContext,
  record,
  requireKey,
  type Target,
} from "./context.js";
import { hasVersion } from "./create.js";
import { fanOut } from "./fan-out.js";
import { copySummary, loadRemoteCopy, saveRemoteCopy } from "./remote-copies.js";
import { versionSource } from "./version-sources.js";

/**
 * rotate: step `generate` makes version N+1 once (the target version is journaled before generating, so a
 * retry never makes N+2), then `rotate@<kms>` adds it to every copy in service, all destinations at once.
 */
export async function processRotate(ctx: OperationContext): Promise<void> {
  const key = requireKey(ctx);
  const { version } = await ctx.step("generate", async ({ journal }) => {
    const planned = journal.get("target")?.version;
    const target = typeof planned === "number" ? planned : key.latestVersion + 1;
    if (planned === undefined) await journal.put("target", { version: target });
    if (!(await hasVersion(ctx, key.id, target))) await addVersion(ctx, target);
    return { version: target };
  });
  const targets = await activeTargets(ctx.deps.db, key.id);
  await fanOut(
    targets,
    (t) => t.kmsName,
    (t) => rotateAt(ctx, t, version),
  );
}

async function addVersion(ctx: OperationContext, version: number): Promise<void> {
  const { db, ring } = ctx.deps;
  const key = requireKey(ctx);
  const sealed = await generateSealedVersion(ring, key, version);
  await db.transaction(async (tx) => {
    await insertKeyVersion(tx, key.id, sealed);
    const updated = await tx
      .update(keys)
      .set({ latestVersion: version, updatedAt: new Date() })
      .where(and(eq(keys.id, key.id), eq(keys.latestVersion, version - 1)))
      .returning({ id: keys.id });
    if (updated.length === 0) throw new Error(`key ${key.name} moved past version ${version - 1} meanwhile`);
    await record(ctx, tx, "key.version.created", { version });
  });
}

function rotateAt(ctx: OperationContext, target: Target, version: number) {
  const key = requireKey(ctx);
  const { db, ring } = ctx.deps;
  return destinationStep(ctx, "rotate", target.kmsId, target.kmsName, async (call) => {
    const copy = await loadRemoteCopy(db, target.distribution);
    const existing = copy.versions.find((v) => v.version === version);
    if (existing) return { version, remoteId: existing.remoteId };
    const source = await versionSource(db, ring, key, version);
    const rotated = await call.provider.rotate(
      call.providerContext,
      call.loaded.destination,
      keyToDistribute(key, target.distribution),
      copy,
      source,
    );
    const remoteId = rotated.versions.find((v) => v.version === version)?.remoteId ?? null;
    await db.transaction(async (tx) => {
      await saveRemoteCopy(tx, target.distribution.id, rotated);
      await record(ctx, tx, "distribution.rotated", { version, remoteId }, target.kmsName);
    });
    return { version, remoteId, remoteName: copySummary(rotated).remoteName };
  });
}

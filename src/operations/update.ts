import { eq } from "drizzle-orm";
import { z } from "zod";
import { keys } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import {
  activeTargets,
  destinationStep,
  keyToDistribute,
  type OperationContext,
  record,
  requireKey,
  type Target,
} from "./context.js";
import { fanOut } from "./fan-out.js";
import { copySummary, loadRemoteCopy, saveRemoteCopy } from "./remote-copies.js";
import { versionSources } from "./version-sources.js";

/** `PATCH /v1/keys/{name}` as intake stored it: the rotation period in seconds (null clears it). */
const updateInput = z
  .object({
    minEnabledVersion: z.number().int().min(1).optional(),
    deletionAllowed: z.boolean().optional(),
    rotationPeriodSeconds: z.number().int().positive().nullable().optional(),
  })
  .strict();

/**
 * update: step `update-key` changes the key's settings; a new `minEnabledVersion` then fans out as
 * `min-version@<kms>` to every copy in service at once (older versions disabled, the others enabled).
 */
export async function processUpdate(ctx: OperationContext): Promise<void> {
  const key = requireKey(ctx);
  const parsed = updateInput.safeParse(ctx.operation.input);
  if (!parsed.success) {
    throw new InvalidInputError("operation_input_invalid", "update input is not valid", {
      fields: parsed.error.issues.map((i) => i.path.join(".")),
    });
  }
  const input = parsed.data;
  await ctx.step("update-key", async () => {
    const min = input.minEnabledVersion;
    if (min !== undefined && min > key.latestVersion) {
      throw new InvalidInputError(
        "min_enabled_version_invalid",
        `minEnabledVersion ${min} is above the latest version ${key.latestVersion} of key ${key.name}`,
      );
    }
    await ctx.deps.db.transaction(async (tx) => {
      await tx
        .update(keys)
        .set({
          ...(min === undefined ? {} : { minEnabledVersion: min }),
          ...(input.deletionAllowed === undefined ? {} : { deletionAllowed: input.deletionAllowed }),
          ...(input.rotationPeriodSeconds === undefined
            ? {}
            : { rotationPeriodSeconds: input.rotationPeriodSeconds }),
          updatedAt: new Date(),
        })
        .where(eq(keys.id, key.id));
      await record(ctx, tx, "key.updated", input);
    });
    return input;
  });
  const min = input.minEnabledVersion;
  if (min === undefined) return;
  const targets = await activeTargets(ctx.deps.db, key.id);
  await fanOut(
    targets,
    (t) => t.kmsName,
    (t) => minVersionAt(ctx, t, min),
  );
}

function minVersionAt(ctx: OperationContext, target: Target, minEnabledVersion: number) {
  const key = requireKey(ctx);
  const { db, ring } = ctx.deps;
  return destinationStep(ctx, "min-version", target.kmsId, target.kmsName, async (call) => {
    const copy = await loadRemoteCopy(db, target.distribution);
    const versions = await versionSources(db, ring, key);
    const updated = await call.provider.setMinEnabledVersion(
      call.providerContext,
      call.loaded.destination,
      keyToDistribute(key, target.distribution),
      copy,
      minEnabledVersion,
      versions,
    );
    const states = Object.fromEntries(updated.versions.map((v) => [String(v.version), v.state]));
    await db.transaction(async (tx) => {
      await saveRemoteCopy(tx, target.distribution.id, updated);
      await record(ctx, tx, "distribution.min-version", { minEnabledVersion, states }, target.kmsName);
    });
    return { minEnabledVersion, states, remoteName: copySummary(updated).remoteName };
  });
}

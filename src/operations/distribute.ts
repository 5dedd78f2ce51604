import { eq } from "drizzle-orm";
import { z } from "zod";
import { distributions, PROTECTIONS, PURPOSES } from "../db/schema/index.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import {
  destinationStep,
  keyToDistribute,
  liveDistribution,
  type OperationContext,
  record,
  requireKey,
} from "./context.js";
import { loadDestination } from "./destinations.js";
import type { DistributionRow } from "./remote-copies.js";
import { copySummary, loadRemoteCopy, saveRemoteCopy } from "./remote-copies.js";
import { versionSources } from "./version-sources.js";

/** As intake stores it (`purposes`); `purpose`, the request body's spelling, is accepted too. */
const distributeInput = z
  .object({
    purposes: z.array(z.enum(PURPOSES)).min(1).optional(),
    purpose: z.array(z.enum(PURPOSES)).min(1).optional(),
    protection: z.enum(PROTECTIONS),
  })
  .strict()
  .refine((input) => input.purposes !== undefined || input.purpose !== undefined, "purposes are missing");

/**
 * distribute: `check-support@<kms>` (the cloud's rules, before anything is created) → `prepare@<kms>`
 * (the distribution row, state distributing) → `distribute@<kms>` (every enabled version, in order) →
 * `verify@<kms>` (the copy holds our versions; state active).
 */
export async function processDistribute(ctx: OperationContext): Promise<void> {
  const key = requireKey(ctx);
  const kmsId = requireKms(ctx);
  const kmsName = ctx.kmsName ?? kmsId;
  const { db, ring, providers } = ctx.deps;
  const parsed = distributeInput.safeParse(ctx.operation.input);
  if (!parsed.success) {
    throw new InvalidInputError("operation_input_invalid", "distribute input is not valid", {
      fields: parsed.error.issues.map((i) => i.path.join(".")),
    });
  }
  const purposes = [...new Set(parsed.data.purposes ?? parsed.data.purpose ?? [])];
  const { protection } = parsed.data;
  const wanted = { name: key.name, type: key.type, purposes, protection };

  await ctx.step(`check-support@${kmsName}`, async () => {
    const { destination } = await loadDestination(db, ring, kmsId);
    providers.get(destination.provider).checkSupport(destination, wanted);
    return { provider: destination.provider, purposes, protection };
  });

  const { distributionId } = await ctx.step(`prepare@${kmsName}`, async () => {
    const id = await db.transaction(async (tx) => {
      const existing = await liveDistribution(tx, key.id, kmsId);
      if (existing?.state === "active" || existing?.state === "removing") {
        throw new InvalidInputError(
          "already_distributed",
          `key ${key.name} already has a ${existing.state} copy in kms ${kmsName}`,
        );
      }
      const values = { purposes, protection, state: "distributing" as const, updatedAt: new Date() };
      const [row] = existing
        ? await tx.update(distributions).set(values).where(eq(distributions.id, existing.id)).returning()
        : await tx
            .insert(distributions)
            .values({ keyId: key.id, kmsId, ...values })
            .returning();
      if (!row) throw new Error("recording the distribution returned no row");
      await record(ctx, tx, "distribution.distributing", { distributionId: row.id, purposes, protection });
      return row.id;
    });
    return { distributionId: id };
  });

  const distribution = await distributionById(ctx, distributionId);
  const versions = await versionSources(db, ring, key, key.minEnabledVersion);

  await destinationStep(ctx, "distribute", kmsId, kmsName, async (call) => {
    const copy = await call.provider.distribute(
      call.providerContext,
      call.loaded.destination,
      keyToDistribute(key, distribution),
      versions,
    );
    const summary = copySummary(copy);
    await db.transaction(async (tx) => {
      await saveRemoteCopy(tx, distributionId, copy);
      await record(ctx, tx, "distribution.copied", summary);
    });
    return summary;
  });

  await destinationStep(ctx, "verify", kmsId, kmsName, async (call) => {
    const current = await distributionById(ctx, distributionId);
    const copy = await loadRemoteCopy(db, current);
    const report = await call.provider.verify(
      call.providerContext,
      call.loaded.destination,
      keyToDistribute(key, current),
      copy,
      versions,
    );
    if (!report.ok) {
      const bad = report.versions.filter((v) => !v.ok).map((v) => `v${v.version}: ${v.reason ?? "mismatch"}`);
      throw new KeyferryError(
        "verify_failed",
        `the copy in kms ${kmsName} does not match: ${bad.join(", ")}`,
        {
          status: 502,
        },
      );
    }
    await db.transaction(async (tx) => {
      await tx
        .update(distributions)
        .set({ state: "active", updatedAt: new Date() })
        .where(eq(distributions.id, distributionId));
      await record(ctx, tx, "distribution.active", { distributionId, versions: report.versions.length });
    });
    return { ok: true, versions: report.versions.map((v) => v.version) };
  });
}

/** A permanent failure leaves the copy marked failed (it may hold some versions; remove cleans it up). */
export async function failDistribute(ctx: OperationContext, tx: Parameters<typeof record>[1]): Promise<void> {
  const key = ctx.key;
  const kmsId = ctx.operation.kmsId;
  if (!key || !kmsId) return;
  const existing = await liveDistribution(tx, key.id, kmsId);
  if (existing?.state !== "distributing") return;
  await tx
    .update(distributions)
    .set({ state: "failed", updatedAt: new Date() })
    .where(eq(distributions.id, existing.id));
  await record(ctx, tx, "distribution.failed", { distributionId: existing.id });
}

export function requireKms(ctx: OperationContext): string {
  const kmsId = ctx.operation.kmsId;
  if (!kmsId)
    throw new KeyferryError("kms_not_found", "the operation names no existing kms", { status: 404 });
  return kmsId;
}

async function distributionById(ctx: OperationContext, id: string): Promise<DistributionRow> {
  const [row] = await ctx.deps.db.select().from(distributions).where(eq(distributions.id, id));
  if (!row) throw new KeyferryError("distribution_not_found", `distribution ${id} is gone`, { status: 404 });
  return row;
}

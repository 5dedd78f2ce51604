import { and, eq, inArray, ne } from "drizzle-orm";
import { distributions, distributionVersions, keys } from "../db/schema/index.js";
import { appendToLedger } from "../ledger/append.js";
import type { RemoteCopy } from "../providers/kms-provider.js";
import {
  type DestinationCall,
  destinationStep,
  type KeyRow,
  keyToDistribute,
  type OperationContext,
} from "./context.js";
import { codeOf, isRetryable, messageOf } from "./errors.js";
import { busyKeyNames, type Finding } from "./reconcile-compare.js";
import { copySummary, type DistributionRow, loadRemoteCopy, saveRemoteCopy } from "./remote-copies.js";
import { versionSource, versionSources } from "./version-sources.js";

/**
 * Drift repair (reconcile with `heal`): one step `heal:<key>@<kms>` per copy with findings (untracked keys:
 * reconcile-untracked.ts). Each re-reads the ledger first (a key whose operations started since the compare
 * is left alone), works only through provider calls that are idempotent or journaled in the step (a retried
 * step finds what an interrupted attempt imported), saves the copy's remote ids, and records every repair in
 * the ledger. Extra versions and untracked keys are disabled, never deleted.
 */

/** What a heal step records: which findings it repaired, and why the others were not. */
export type HealOutcome = {
  key: string;
  healed: Array<{ kind: Finding["kind"]; version?: number; remoteId?: string }>;
  unhealed: Array<{ kind: Finding["kind"]; version?: number; remoteId?: string; reason: string }>;
  skipped?: string;
  versions?: Record<string, string>;
};

const ref = (f: Finding) => ({
  kind: f.kind,
  ...(f.version === undefined ? {} : { version: f.version }),
  ...(f.remoteId === undefined ? {} : { remoteId: f.remoteId }),
});

export function healCopy(
  ctx: OperationContext,
  kmsId: string,
  kmsName: string,
  keyName: string,
  findings: readonly Finding[],
): Promise<HealOutcome> {
  return destinationStep(ctx, `heal:${keyName}`, kmsId, kmsName, async (call) => {
    try {
      return await repairCopy(ctx, call, kmsId, keyName, findings);
    } catch (error) {
      if (isRetryable(error)) throw error;
      // A refusal (a name taken by another key, a layout KMS cannot repair) ends this copy's repair only.
      const reason = `${codeOf(error)}: ${messageOf(error)}`;
      await ctx.deps.db.transaction((tx) =>
        appendToLedger(
          tx,
          findings.map((f) => driftEvent(ctx, kmsName, keyName, "drift.heal-failed", f, { reason })),
        ),
      );
      return { key: keyName, healed: [], unhealed: findings.map((f) => ({ ...ref(f), reason })) };
    }
  });
}

async function repairCopy(
  ctx: OperationContext,
  call: DestinationCall,
  kmsId: string,
  keyName: string,
  findings: readonly Finding[],
): Promise<HealOutcome> {
  const { db, ring } = ctx.deps;
  if ((await busyKeyNames(db)).has(keyName)) {
    return {
      key: keyName,
      healed: [],
      unhealed: [],
      skipped: "operations started on the key since the compare",
    };
  }
  const row = await activeCopy(ctx, kmsId, keyName);
  if (!row) return { key: keyName, healed: [], unhealed: [], skipped: "the copy is no longer active" };
  const { distribution, key } = row;
  const { provider, providerContext: pctx } = call;
  const destination = call.loaded.destination;
  const target = keyToDistribute(key, distribution);
  const min = key.minEnabledVersion;
  const recorded = await loadRemoteCopy(db, distribution);
  const kinds = new Set(findings.map((f) => f.kind));
  let copy: RemoteCopy;

  if (kinds.has("missing_copy")) {
    // Gone altogether: distributed again from custody, as distribute does (the enabled versions).
    copy = await provider.distribute(pctx, destination, target, await versionSources(db, ring, key, min));
  } else {
    const missing = findings.flatMap((f) => (f.kind === "missing_version" && f.version ? [f.version] : []));
    // A disabled version that is gone is only recorded as gone: distribute never imports those either.
    const dropped = new Set(missing.filter((v) => v < min));
    copy = { ...recorded, versions: recorded.versions.filter((v) => !dropped.has(v.version)) };
    if (kinds.has("missing_version") || kinds.has("pending_deletion") || kinds.has("state_mismatch")) {
      const wanted = new Set(missing.filter((v) => v >= min));
      const reimport = (await versionSources(db, ring, key, min)).filter((s) => wanted.has(s.version));
      copy = await provider.repair(pctx, destination, target, copy, { reimport, minEnabledVersion: min });
    }
  }

  const unhealed: HealOutcome["unhealed"] = [];
  for (const extra of findings.filter((f) => f.kind === "extra_version")) {
    const remoteId = extra.remoteId;
    if (!remoteId) continue;
    if (copy.versions.some((v) => v.remoteId.toLowerCase() === remoteId.toLowerCase())) {
      unhealed.push({
        ...ref(extra),
        reason: "it shares a KMS key with recorded versions: disabling it would disable them",
      });
      continue;
    }
    await provider.disableRemote(pctx, destination, { keyName, version: extra.version ?? 0, remoteId });
  }

  copy = await reseatLatest(ctx, call, key, target, copy);
  const inCopy = new Set(copy.versions.map((v) => v.version));
  const sources = (await versionSources(db, ring, key)).filter((s) => inCopy.has(s.version));
  const report = await provider.verify(pctx, destination, target, copy, sources);
  if (!report.ok) {
    const bad = report.versions.filter((v) => !v.ok).map((v) => `v${v.version}: ${v.reason ?? "mismatch"}`);
    const reason = `after the repair the copy does not verify: ${bad.join(", ")}`;
    for (const f of findings)
      if (!unhealed.some((u) => u.kind === f.kind && u.version === f.version))
        unhealed.push({ ...ref(f), reason });
  }
  const healed = findings.filter(
    (f) => !unhealed.some((u) => u.kind === f.kind && u.version === f.version && u.remoteId === f.remoteId),
  );
  await save(ctx, call, distribution, recorded, copy, keyName, healed, unhealed);
  return { key: keyName, healed: healed.map(ref), unhealed, versions: copySummary(copy).versions };
}

/**
 * Make the latest version what the copy's name resolves to again. AWS repair moves the alias itself; in Azure
 * a newer version (made in the portal) stays the current one even when disabled, so the latest version is
 * imported once more through the provider's rotate (journaled in this step) and its older Azure version,
 * which callers may still name, is disabled.
 */
async function reseatLatest(
  ctx: OperationContext,
  call: DestinationCall,
  key: KeyRow,
  target: ReturnType<typeof keyToDistribute>,
  copy: RemoteCopy,
): Promise<RemoteCopy> {
  const latest = copy.versions.reduce<RemoteCopy["versions"][number] | undefined>(
    (a, b) => (a === undefined || b.version > a.version ? b : a),
    undefined,
  );
  if (!latest) return copy;
  const { provider, providerContext: pctx } = call;
  const destination = call.loaded.destination;
  const resolved = await provider.nameTarget(pctx, destination, target, copy);
  if (resolved?.toLowerCase() === latest.remoteId.toLowerCase()) return copy;
  const without = { ...copy, versions: copy.versions.filter((v) => v.version !== latest.version) };
  const source = await versionSource(ctx.deps.db, ctx.deps.ring, key, latest.version);
  const rotated = await provider.rotate(pctx, destination, target, without, source);
  const renewed = rotated.versions.find((v) => v.version === latest.version);
  if (renewed && renewed.remoteId !== latest.remoteId) {
    await provider.disableRemote(pctx, destination, {
      keyName: key.name,
      version: latest.version,
      remoteId: latest.remoteId,
    });
  }
  return rotated;
}

async function save(
  ctx: OperationContext,
  call: DestinationCall,
  distribution: DistributionRow,
  recorded: RemoteCopy,
  copy: RemoteCopy,
  keyName: string,
  healed: readonly Finding[],
  unhealed: HealOutcome["unhealed"],
): Promise<void> {
  const kmsName = call.loaded.destination.name;
  const kept = new Set(copy.versions.map((v) => v.version));
  const gone = recorded.versions.filter((v) => !kept.has(v.version)).map((v) => v.version);
  await ctx.deps.db.transaction(async (tx) => {
    await saveRemoteCopy(tx, distribution.id, copy);
    if (gone.length > 0) {
      await tx
        .update(distributionVersions)
        .set({ state: "removed", updatedAt: new Date() })
        .where(
          and(
            eq(distributionVersions.distributionId, distribution.id),
            inArray(distributionVersions.version, gone),
          ),
        );
    }
    await appendToLedger(tx, [
      {
        event: "distribution.repaired",
        operationId: ctx.operation.id,
        keyName,
        kmsName,
        actor: "worker",
        data: {
          distributionId: distribution.id,
          ...copySummary(copy),
          ...(gone.length ? { removedVersions: gone } : {}),
        },
      },
      ...healed.map((f) => driftEvent(ctx, kmsName, keyName, "drift.healed", f)),
      ...unhealed.map((u) =>
        driftEvent(
          ctx,
          kmsName,
          keyName,
          "drift.heal-failed",
          { ...u, message: u.reason },
          { reason: u.reason },
        ),
      ),
    ]);
  });
}

async function activeCopy(
  ctx: OperationContext,
  kmsId: string,
  keyName: string,
): Promise<{ distribution: DistributionRow; key: KeyRow } | undefined> {
  const [row] = await ctx.deps.db
    .select({ distribution: distributions, key: keys })
    .from(distributions)
    .innerJoin(keys, eq(keys.id, distributions.keyId))
    .where(and(eq(keys.name, keyName), eq(distributions.kmsId, kmsId), ne(distributions.state, "removed")));
  return row?.distribution.state === "active" ? row : undefined;
}

export function driftEvent(
  ctx: OperationContext,
  kmsName: string,
  keyName: string | null,
  event: string,
  finding: Finding,
  extra: Record<string, unknown> = {},
) {
  return {
    event,
    operationId: ctx.operation.id,
    keyName,
    kmsName,
    actor: "worker",
    data: { ...finding, ...extra },
  };
}

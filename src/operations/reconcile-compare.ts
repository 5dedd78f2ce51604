import { and, eq, inArray, isNotNull, ne } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { distributions, keys, operations } from "../db/schema/index.js";
import type { RemoteCopy, RemoteState } from "../providers/kms-provider.js";
import { type DestinationCall, type KeyRow, keyToDistribute } from "./context.js";
import { type DistributionRow, loadRemoteCopy } from "./remote-copies.js";

/**
 * Drift detection of one destination: what the ledger says it holds (live distributions and their version
 * rows, the key's `minEnabledVersion`) against what it holds (the provider's `describe` of each recorded
 * copy, and `listManaged` for tagged objects the ledger does not record). The findings are the `result` of
 * the step `compare@<kms>` in the shape of briefs/shared-shapes.md, which the dashboard and /metrics read.
 */

export const DRIFT_KINDS = [
  "missing_copy",
  "missing_version",
  "extra_version",
  "state_mismatch",
  "pending_deletion",
  "untracked",
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface Finding {
  kind: DriftKind;
  key?: string;
  version?: number;
  remoteId?: string;
  message: string;
  healed?: boolean;
}

export type CompareResult = {
  findings: Finding[];
  counts: Record<DriftKind, number>;
  /** Copies compared. */
  copies: number;
  /** Copies not compared, and why (their key has operations in flight, the copy is not active). */
  skipped: Array<{ key: string; reason: string }>;
};

/** One copy the ledger has as active in this destination, as compared and healed. */
export interface LedgerCopy {
  distribution: DistributionRow;
  key: KeyRow;
  copy: RemoteCopy;
}

export interface LedgerView {
  /** Active copies whose key has no operation in flight. */
  copies: LedgerCopy[];
  skipped: CompareResult["skipped"];
  /** Key names with a live (not removed) copy here, compared or not. */
  liveKeys: Set<string>;
  /** Key names whose operations are queued or running: changing, so neither compared nor healed. */
  busyKeys: Set<string>;
  /** `remoteId#version` of every version row of every live copy here. */
  recorded: Set<string>;
}

export const recordedId = (remoteId: string, version: number) => `${remoteId.toLowerCase()}#${version}`;

export async function busyKeyNames(db: Queryable): Promise<Set<string>> {
  const rows = await db
    .selectDistinct({ name: keys.name })
    .from(operations)
    .innerJoin(keys, eq(keys.id, operations.keyId))
    .where(and(isNotNull(operations.keyId), inArray(operations.state, ["queued", "running"])));
  return new Set(rows.map((row) => row.name));
}

export async function loadLedgerView(db: Queryable, kmsId: string): Promise<LedgerView> {
  const busyKeys = await busyKeyNames(db);
  const rows = await db
    .select({ distribution: distributions, key: keys })
    .from(distributions)
    .innerJoin(keys, eq(keys.id, distributions.keyId))
    .where(and(eq(distributions.kmsId, kmsId), ne(distributions.state, "removed")))
    .orderBy(keys.name);
  const view: LedgerView = { copies: [], skipped: [], liveKeys: new Set(), busyKeys, recorded: new Set() };
  for (const { distribution, key } of rows) {
    view.liveKeys.add(key.name);
    const copy = await loadRemoteCopy(db, distribution);
    for (const version of copy.versions) view.recorded.add(recordedId(version.remoteId, version.version));
    if (busyKeys.has(key.name)) {
      view.skipped.push({
        key: key.name,
        reason: "operations in flight (queued or running): the copy is changing",
      });
    } else if (distribution.state !== "active") {
      view.skipped.push({ key: key.name, reason: `the copy is ${distribution.state}, not active` });
    } else {
      view.copies.push({ distribution, key, copy });
    }
  }
  return view;
}

/** Compare every copy of the view with the destination, then look for tagged objects nobody recorded. */
export async function compareDestination(
  call: Pick<DestinationCall, "provider" | "loaded" | "providerContext">,
  view: LedgerView,
): Promise<CompareResult> {
  const findings: Finding[] = [];
  for (const entry of view.copies) {
    const target = keyToDistribute(entry.key, entry.distribution);
    const { provider, providerContext: ctx, loaded } = call;
    const state = await provider.describe(ctx, loaded.destination, target, entry.copy);
    const nameTarget = await provider.nameTarget(ctx, loaded.destination, target, entry.copy);
    findings.push(...classifyCopy(entry, state, nameTarget));
  }
  const compared = new Set(view.copies.map((entry) => entry.key.name));
  const managed = await call.provider.listManaged(call.providerContext, call.loaded.destination);
  for (const remote of managed) {
    // Only what still works is drift: keyferry's own removals leave keys disabled or pending deletion.
    if (remote.state !== "enabled") continue;
    if (view.recorded.has(recordedId(remote.remoteId, remote.version))) continue;
    if (view.busyKeys.has(remote.keyName)) continue;
    const where = `${remote.remoteId}${remote.remoteName ? ` (${remote.remoteName})` : ""}`;
    if (compared.has(remote.keyName)) {
      findings.push({
        kind: "extra_version",
        key: remote.keyName,
        version: remote.version,
        remoteId: remote.remoteId,
        message: `${where} is tagged as v${remote.version} of ${remote.keyName} and enabled, but keyferry does not record it`,
      });
    } else if (!view.liveKeys.has(remote.keyName)) {
      findings.push({
        kind: "untracked",
        key: remote.keyName,
        version: remote.version,
        remoteId: remote.remoteId,
        message: `${where} carries keyferry's tags for ${remote.keyName} v${remote.version} and is enabled, but keyferry has no live copy of that key here`,
      });
    }
  }
  return { findings, counts: countsOf(findings), copies: view.copies.length, skipped: view.skipped };
}

export function countsOf(findings: readonly Finding[]): Record<DriftKind, number> {
  const counts = Object.fromEntries(DRIFT_KINDS.map((kind) => [kind, 0])) as Record<DriftKind, number>;
  for (const finding of findings) counts[finding.kind] += 1;
  return counts;
}

/** What one copy's remote state says against the ledger and the key's minimum enabled version. */
export function classifyCopy(entry: LedgerCopy, state: RemoteState, nameTarget: string | null): Finding[] {
  const key = entry.key.name;
  const min = entry.key.minEnabledVersion;
  const { remoteName, versions } = entry.copy;
  if (versions.length === 0) return [];
  const remote = new Map(state.versions.map((v) => [v.version, v.state]));
  const statusOf = (version: number) => remote.get(version) ?? "deleted";
  const statuses = versions.map((v) => statusOf(v.version));
  if (statuses.every((s) => s === "deleted")) {
    return [
      {
        kind: "missing_copy",
        key,
        message: `the copy of ${key} (${remoteName}) is gone from the destination: deleted or purged outside keyferry`,
      },
    ];
  }
  if (statuses.every((s) => s === "pending-deletion")) {
    return [
      {
        kind: "pending_deletion",
        key,
        message: `the copy of ${key} (${remoteName}) is scheduled for deletion in the destination while keyferry has it active`,
      },
    ];
  }
  const findings: Finding[] = [];
  let latestFine = false;
  const latest = versions.reduce((a, b) => (b.version > a.version ? b : a));
  for (const version of versions) {
    const status = statusOf(version.version);
    const expected = version.version >= min ? "enabled" : "disabled";
    const at = { key, version: version.version, remoteId: version.remoteId };
    if (status === "deleted") {
      findings.push({
        kind: "missing_version",
        ...at,
        message: `v${version.version} of ${key} is gone from the destination`,
      });
    } else if (status === "pending") {
      findings.push({
        kind: "missing_version",
        ...at,
        message: `v${version.version} of ${key} holds no usable key material (pending import)`,
      });
    } else if (status === "pending-deletion") {
      findings.push({
        kind: "pending_deletion",
        ...at,
        message: `v${version.version} of ${key} is scheduled for deletion while keyferry has it ${expected}`,
      });
    } else if (status !== expected) {
      findings.push({
        kind: "state_mismatch",
        ...at,
        message: `v${version.version} of ${key} is ${status} in the destination; keyferry has it ${expected} (minEnabledVersion ${min})`,
      });
    } else if (version === latest) {
      latestFine = true;
    }
  }
  // The name (AWS alias, Azure current version) is judged only when the latest version itself is as recorded.
  const target = nameTarget;
  if (latestFine && target?.toLowerCase() !== latest.remoteId.toLowerCase()) {
    findings.push({
      kind: "state_mismatch",
      key,
      ...(target ? { remoteId: target } : {}),
      message: `${remoteName} resolves to ${target ?? "nothing usable"}, not to v${latest.version} (${latest.remoteId})`,
    });
  }
  return findings;
}

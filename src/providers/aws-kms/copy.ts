import type { RemoteCopy, RemoteVersion } from "../kms-provider.js";

/**
 * How a copy is laid out in AWS KMS, kept in RemoteCopy.detail (ids only):
 * - `key-per-version`: one KMS key per version, behind the alias: always for asymmetric keys, whose material
 *   can never change, and by default for AES keys, so that each version can be disabled on its own;
 * - `single-key`: AES keys whose destination asks for it (`awsSymmetricLayout`): one KMS key whose materials
 *   are the versions (NEW_KEY_MATERIAL + rotation), so applications keep one ARN; from `fallbackFromVersion`
 *   on, past the 25 on-demand rotations a key allows, each newer version has a KMS key of its own.
 */
export type CopyLayout =
  | { layout: "key-per-version" }
  | { layout: "single-key"; singleKeyArn: string | undefined; fallbackFromVersion: number | undefined };

export function layoutOf(copy: RemoteCopy): CopyLayout {
  if (copy.detail.layout !== "single-key") return { layout: "key-per-version" };
  const { singleKeyArn, fallbackFromVersion } = copy.detail;
  return {
    layout: "single-key",
    singleKeyArn: typeof singleKeyArn === "string" ? singleKeyArn : undefined,
    fallbackFromVersion: typeof fallbackFromVersion === "number" ? fallbackFromVersion : undefined,
  };
}

export function emptyCopy(remoteName: string, singleKey: boolean): RemoteCopy {
  return {
    remoteName,
    versions: [],
    detail: singleKey ? { layout: "single-key" } : { layout: "key-per-version" },
  };
}

export function keyMaterialIdOf(version: RemoteVersion): string | undefined {
  const id = version.detail.keyMaterialId;
  return typeof id === "string" ? id : undefined;
}

/** The highest version: the one the alias points at. */
export function latestOf(copy: RemoteCopy): RemoteVersion | undefined {
  return copy.versions.reduce<RemoteVersion | undefined>(
    (latest, version) => (latest === undefined || version.version > latest.version ? version : latest),
    undefined,
  );
}

/** The copy's versions grouped by the KMS key that holds them, in version order. */
export function versionsByKey(copy: RemoteCopy): Map<string, RemoteVersion[]> {
  const groups = new Map<string, RemoteVersion[]>();
  for (const version of [...copy.versions].sort((a, b) => a.version - b.version)) {
    groups.set(version.remoteId, [...(groups.get(version.remoteId) ?? []), version]);
  }
  return groups;
}

/** The version's multi-Region replicas, region to ARN (RemoteVersion.detail.replicas); none when unreplicated. */
export function replicasOf(version: RemoteVersion): Record<string, string> {
  const replicas = version.detail.replicas;
  if (typeof replicas !== "object" || replicas === null) return {};
  return Object.fromEntries(
    Object.entries(replicas).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

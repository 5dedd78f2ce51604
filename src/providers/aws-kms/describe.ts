import type { KeyMetadata, RotationsListEntry } from "@aws-sdk/client-kms";
import type { RemoteCopy, RemoteState, RemoteVersion } from "../kms-provider.js";
import { keyMaterialIdOf, versionsByKey } from "./copy.js";
import { describeKey } from "./remote-keys.js";
import { materialsOf } from "./rotation.js";
import type { AwsRun } from "./run.js";
import { isSymmetric } from "./support.js";

/**
 * What the cloud says about each version of a copy (the KMS key's state, and for AES its material's), and
 * where the copy's alias points.
 */

export type RemoteVersionStatus = RemoteState["versions"][number]["state"];

export interface KeyFacts {
  metadata: KeyMetadata | undefined;
  /** Materials of symmetric keys that can be listed (not pending deletion). */
  materials: RotationsListEntry[];
}

/** DescribeKey (and for AES ListKeyRotations) once per KMS key of the copy. */
export async function keyFactsOf(run: AwsRun, copy: RemoteCopy): Promise<Map<string, KeyFacts>> {
  const facts = new Map<string, KeyFacts>();
  for (const arn of versionsByKey(copy).keys()) {
    const metadata = await describeKey(run, arn);
    const listable =
      metadata !== undefined && metadata.KeyState !== "PendingDeletion" && isSymmetric(run.key);
    facts.set(arn, { metadata, materials: listable ? await materialsOf(run, arn) : [] });
  }
  return facts;
}

export function statusOf(version: RemoteVersion, facts: KeyFacts | undefined): RemoteVersionStatus {
  const state = facts?.metadata?.KeyState;
  if (state === undefined) return "deleted";
  if (state === "PendingDeletion" || state === "PendingReplicaDeletion") return "pending-deletion";
  if (state === "Disabled") return "disabled";
  if (state !== "Enabled") return "pending";
  const materialId = keyMaterialIdOf(version);
  if (materialId === undefined || facts === undefined || facts.materials.length === 0) return "enabled";
  const material = facts.materials.find((entry) => entry.KeyMaterialId === materialId);
  if (!material) return "deleted";
  if (material.ImportState === "PENDING_IMPORT" || material.KeyMaterialState === "PENDING_ROTATION")
    return "pending";
  return "enabled";
}

export async function describeCopy(run: AwsRun, copy: RemoteCopy): Promise<RemoteState> {
  const facts = await keyFactsOf(run, copy);
  const versions = copy.versions.map((version) => ({
    version: version.version,
    remoteId: version.remoteId,
    state: statusOf(version, facts.get(version.remoteId)),
  }));
  const gone: readonly RemoteVersionStatus[] = ["deleted", "pending-deletion"];
  return { exists: versions.some((version) => !gone.includes(version.state)), versions };
}

/** The key the alias points at; it may have gone with a deleted key, or still name one pending deletion. */
export async function aliasTargetOf(run: AwsRun, copy: RemoteCopy): Promise<string | null> {
  if (!copy.remoteName) return null;
  return (await describeKey(run, copy.remoteName))?.Arn ?? null;
}

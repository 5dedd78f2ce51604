import { CancelKeyDeletionCommand, DisableKeyCommand } from "@aws-sdk/client-kms";
import type { CopyRepair, RemoteCopy, RemoteVersion, VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { isRemote, pointAlias } from "./alias.js";
import { latestOf, layoutOf, versionsByKey } from "./copy.js";
import { importFirstMaterial } from "./import-material.js";
import { setMinVersion } from "./min-version.js";
import { createVersionKey, describeKey } from "./remote-keys.js";
import type { AwsReader, AwsRun } from "./run.js";

/**
 * Drift repair of a copy that still exists (reconcile with `heal`), in an order where each part is safe to
 * repeat: deletions scheduled in the console are cancelled (the key comes back Disabled, or PendingImport
 * when its material is gone), versions whose key or material is gone are imported again — into the same key
 * while it exists, else into a new key found again by the journal and tags on a retry —, the states follow
 * the minimum enabled version, and the alias is pointed at the latest version (moved off a key pending
 * deletion, or created again when it went with a deleted key).
 */
export async function repairCopy(run: AwsRun, copy: RemoteCopy, repair: CopyRepair): Promise<RemoteCopy> {
  for (const arn of versionsByKey(copy).keys()) await cancelDeletion(run, arn);
  let current = copy;
  for (const source of [...repair.reimport].sort((a, b) => a.version - b.version)) {
    current = await reimportVersion(run, current, source);
  }
  current = await setMinVersion(run, current, repair.minEnabledVersion);
  const latest = latestOf(current);
  if (latest && (await describeKey(run, current.remoteName))?.Arn !== latest.remoteId) {
    await pointAlias(run, current.remoteName, latest.remoteId);
  }
  return current;
}

/** DisableKey on a key keyferry does not record; a key that is gone or not enabled is left as it is. */
export async function disableKey(reader: AwsReader, arn: string): Promise<void> {
  const state = (await describeKey(reader, arn))?.KeyState;
  if (state !== "Enabled") return;
  await reader.session.call(
    "DisableKey",
    (client, abortSignal) => client.send(new DisableKeyCommand({ KeyId: arn }), { abortSignal }),
    { idempotent: true, arn },
  );
  reader.session.ctx.logger.info(
    { op: "DisableKey", kms: reader.session.destination.name, arn },
    "aws-kms key keyferry does not record disabled",
  );
}

async function cancelDeletion(run: AwsRun, arn: string): Promise<void> {
  if ((await describeKey(run, arn))?.KeyState !== "PendingDeletion") return;
  try {
    await run.session.call(
      "CancelKeyDeletion",
      (client, abortSignal) => client.send(new CancelKeyDeletionCommand({ KeyId: arn }), { abortSignal }),
      { idempotent: true, key: run.key.name, arn },
    );
  } catch (error) {
    // A repeated request whose first answer was lost: the key is no longer pending deletion.
    if (!isRemote(error, "KMSInvalidStateException")) throw error;
    if ((await describeKey(run, arn))?.KeyState === "PendingDeletion") throw error;
  }
  run.session.ctx.logger.info(
    { op: "CancelKeyDeletion", kms: run.session.destination.name, key: run.key.name, arn },
    "aws-kms key deletion cancelled",
  );
}

/** One version imported again: into its own key while it exists without material, else into a new key. */
async function reimportVersion(run: AwsRun, copy: RemoteCopy, source: VersionSource): Promise<RemoteCopy> {
  const recorded = copy.versions.find((version) => version.version === source.version);
  const layout = layoutOf(copy);
  if (recorded) {
    const shared = (versionsByKey(copy).get(recorded.remoteId)?.length ?? 0) > 1;
    const state = (await describeKey(run, recorded.remoteId))?.KeyState;
    if (state === "Enabled" || state === "Disabled") return copy;
    if (state !== undefined && shared) {
      throw new ProviderError(
        "permanent",
        "SingleKeyMaterialMissing",
        `AWS KMS key ${recorded.remoteId} holds several versions of ${run.key.name} and lost its material: ` +
          "KMS cannot restore one material of such a key; remove the copy and distribute it again",
      );
    }
    if (state === "PendingImport") {
      const keyMaterialId = await importFirstMaterial(run, recorded.remoteId, source);
      return withVersion(copy, remoteVersion(source.version, recorded.remoteId, keyMaterialId), {});
    }
  }
  const arn = await createVersionKey(run, source.version);
  const keyMaterialId = await importFirstMaterial(run, arn, source);
  // The single key of an AES copy is gone: the versions brought back each have a key of their own.
  const detail =
    layout.layout === "single-key" && layout.fallbackFromVersion === undefined
      ? {
          fallbackFromVersion: source.version,
          fallbackReason: `the copy's single KMS key was deleted: v${source.version} and later versions each have a KMS key of their own`,
        }
      : {};
  return withVersion(copy, remoteVersion(source.version, arn, keyMaterialId), detail);
}

function remoteVersion(version: number, arn: string, keyMaterialId: string | undefined): RemoteVersion {
  return {
    version,
    remoteId: arn,
    state: "enabled",
    detail: keyMaterialId === undefined ? {} : { keyMaterialId },
  };
}

function withVersion(copy: RemoteCopy, version: RemoteVersion, detail: Record<string, unknown>): RemoteCopy {
  return {
    remoteName: copy.remoteName,
    versions: [...copy.versions.filter((v) => v.version !== version.version), version].sort(
      (a, b) => a.version - b.version,
    ),
    detail: { ...copy.detail, ...detail },
  };
}

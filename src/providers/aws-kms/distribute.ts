import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { RemoteCopy, RemoteVersion, VersionSource } from "../kms-provider.js";
import { pointAlias } from "./alias.js";
import { type CopyLayout, emptyCopy, latestOf, layoutOf, replicasOf } from "./copy.js";
import { importFirstMaterial, importNewMaterial } from "./import-material.js";
import { ENTRY } from "./journal.js";
import { createVersionKey } from "./remote-keys.js";
import { replicateVersion } from "./replicas.js";
import { MAX_ON_DEMAND_ROTATIONS, onDemandRotationCount, rotateTo } from "./rotation.js";
import type { AwsRun } from "./run.js";
import { isSymmetric } from "./support.js";

/**
 * distribute and rotate (SPEC section 4). Each version goes to its KMS key in order, then the alias follows
 * the latest. Every step is safe to repeat with the same journal: keys are found by the journal or by tags,
 * materials by their description, rotations by the current material.
 */

export async function distributeVersions(
  run: AwsRun,
  aliasName: string,
  versions: readonly VersionSource[],
): Promise<RemoteCopy> {
  checkVersions(versions);
  const singleKey =
    isSymmetric(run.key) && run.session.destination.options.awsSymmetricLayout === "single-key";
  let copy = emptyCopy(aliasName, singleKey);
  for (const version of versions) copy = await addVersion(run, copy, version);
  return finish(run, copy);
}

export async function rotateCopy(run: AwsRun, copy: RemoteCopy, version: VersionSource): Promise<RemoteCopy> {
  const latest = latestOf(copy);
  if (latest && version.version < latest.version) {
    throw new InvalidInputError(
      "version_not_newer",
      `v${version.version} of ${run.key.name} is older than v${latest.version}, the copy's current version`,
      { version: version.version, latest: latest.version },
    );
  }
  return finish(run, await addVersion(run, copy, version));
}

/** The alias follows the latest version in every region: aliases are per region, like the keys. */
async function finish(run: AwsRun, copy: RemoteCopy): Promise<RemoteCopy> {
  const latest = latestOf(copy);
  if (!latest) return copy;
  await pointAlias(run, copy.remoteName, latest.remoteId);
  for (const [region, arn] of Object.entries(replicasOf(latest))) {
    await pointAlias(run.inRegion(region), copy.remoteName, arn);
  }
  return copy;
}

/** One more version in the copy; a version already there is left as it is (a repeated call). */
async function addVersion(run: AwsRun, copy: RemoteCopy, version: VersionSource): Promise<RemoteCopy> {
  if (copy.versions.some((existing) => existing.version === version.version)) return copy;
  const layout = layoutOf(copy);
  if (layout.layout === "single-key" && layout.singleKeyArn !== undefined) {
    if (!(await needsOwnKey(run, layout, layout.singleKeyArn, version.version))) {
      const keyMaterialId = await importNewMaterial(run, layout.singleKeyArn, version);
      await rotateTo(run, layout.singleKeyArn, version.version, keyMaterialId);
      return withVersion(copy, remoteVersion(version.version, layout.singleKeyArn, keyMaterialId), {});
    }
    const arn = await createVersionKey(run, version.version);
    const keyMaterialId = await importFirstMaterial(run, arn, version);
    const fallback =
      layout.fallbackFromVersion === undefined
        ? {
            fallbackFromVersion: version.version,
            fallbackReason:
              `AWS KMS allows ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations per key: ` +
              `v${version.version} and later versions each have a KMS key of their own`,
          }
        : {};
    if (layout.fallbackFromVersion === undefined) {
      run.session.ctx.logger.warn(
        {
          op: "RotateKeyOnDemand",
          kms: run.session.destination.name,
          key: run.key.name,
          version: version.version,
          arn,
        },
        "aws-kms rotation limit reached: this and later versions get a key of their own",
      );
    }
    return withVersion(copy, remoteVersion(version.version, arn, keyMaterialId), fallback);
  }
  const arn = await createVersionKey(run, version.version);
  const keyMaterialId = await importFirstMaterial(run, arn, version);
  const replicas = await replicateVersion(run, arn, version, keyMaterialId);
  const detail = layout.layout === "single-key" ? { singleKeyArn: arn } : {};
  return withVersion(copy, remoteVersion(version.version, arn, keyMaterialId, replicas), detail);
}

/**
 * Whether a later AES version must leave the single key. The journal decides first: an earlier attempt that
 * already created a key, or imported material, for this version has chosen; otherwise the key's rotation
 * count does.
 */
async function needsOwnKey(
  run: AwsRun,
  layout: Extract<CopyLayout, { layout: "single-key" }>,
  singleKeyArn: string,
  version: number,
): Promise<boolean> {
  if (layout.fallbackFromVersion !== undefined) return true;
  const { journal } = run.session.ctx;
  if (journal.get(ENTRY.createKey(version)) !== undefined) return true;
  if (journal.get(ENTRY.importNewMaterial(version)) !== undefined) return false;
  return (await onDemandRotationCount(run, singleKeyArn)) >= MAX_ON_DEMAND_ROTATIONS;
}

function remoteVersion(
  version: number,
  arn: string,
  keyMaterialId: string | undefined,
  replicas: Record<string, string> = {},
): RemoteVersion {
  return {
    version,
    remoteId: arn,
    state: "enabled",
    detail: {
      ...(keyMaterialId === undefined ? {} : { keyMaterialId }),
      ...(Object.keys(replicas).length > 0 ? { replicas } : {}),
    },
  };
}

function withVersion(copy: RemoteCopy, version: RemoteVersion, detail: Record<string, unknown>): RemoteCopy {
  return {
    remoteName: copy.remoteName,
    versions: [...copy.versions, version].sort((a, b) => a.version - b.version),
    detail: { ...copy.detail, ...detail },
  };
}

function checkVersions(versions: readonly VersionSource[]): void {
  const numbers = versions.map((version) => version.version);
  const ascending = numbers.every(
    (n, index) => Number.isSafeInteger(n) && n >= 1 && (index === 0 || n > (numbers[index - 1] ?? 0)),
  );
  if (numbers.length === 0 || !ascending) {
    throw new InvalidInputError(
      "invalid_versions",
      "distribute needs at least one version, in ascending order",
      {
        versions: numbers,
      },
    );
  }
}

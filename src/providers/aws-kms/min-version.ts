import { DisableKeyCommand, EnableKeyCommand } from "@aws-sdk/client-kms";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { RemoteCopy } from "../kms-provider.js";
import { versionsByKey } from "./copy.js";
import { describeKey } from "./remote-keys.js";
import { regionalKeys } from "./replicas.js";
import type { AwsRun } from "./run.js";

/**
 * Disable the versions below `minEnabledVersion` and enable the others, one KMS key at a time with
 * DisableKey / EnableKey (both idempotent). The VersionSources are not needed: no material is deleted.
 *
 * A single-key AES copy holds several versions in one KMS key, and AWS KMS has no switch per key material:
 * deleting the imported material of any non-current version turns the whole key PendingImport, the current
 * version included (developer guide, "Delete imported key material"). So such a key is disabled only when
 * all of its versions are below the minimum, enabled when none is, and a minimum that falls between its
 * versions is refused before anything changes: quietly leaving old versions usable, or breaking the
 * current one, would both be worse than a clear refusal.
 */
export async function setMinVersion(
  run: AwsRun,
  copy: RemoteCopy,
  minEnabledVersion: number,
): Promise<RemoteCopy> {
  if (!Number.isSafeInteger(minEnabledVersion) || minEnabledVersion < 1) {
    throw new InvalidInputError("invalid_min_version", "minEnabledVersion must be a whole number from 1", {
      minEnabledVersion,
    });
  }
  const groups = versionsByKey(copy);
  for (const [arn, versions] of groups) {
    const below = versions.filter((version) => version.version < minEnabledVersion);
    if (below.length > 0 && below.length < versions.length) {
      const held = versions.map((version) => `v${version.version}`).join(", ");
      throw new InvalidInputError(
        "min_version_unsupported",
        `AWS KMS cannot disable ${below.map((v) => `v${v.version}`).join(", ")} of ${run.key.name} alone: ` +
          `one KMS key (${arn}) holds ${held}, and KMS cannot disable a single key material (deleting the ` +
          "material of a non-current version makes the whole key unusable); choose a minimum that is not " +
          "inside that range",
        { kms: run.session.destination.name, key: run.key.name, minEnabledVersion, sharedVersions: held },
      );
    }
  }
  // Key states are per region: each multi-Region replica is enabled or disabled like its primary.
  for (const target of regionalKeys(run, copy)) {
    const enable = target.versions.every((version) => version.version >= minEnabledVersion);
    await setEnabled(target.run, target.arn, enable, target.versions[0]?.version);
  }
  return {
    ...copy,
    versions: copy.versions.map((version) => ({
      ...version,
      state: version.version >= minEnabledVersion ? "enabled" : "disabled",
    })),
  };
}

async function setEnabled(
  run: AwsRun,
  arn: string,
  enable: boolean,
  version: number | undefined,
): Promise<void> {
  const operation = enable ? "EnableKey" : "DisableKey";
  // DescribeKey's quota is 400 times EnableKey's and DisableKey's: skip keys already as wanted.
  const state = (await describeKey(run, arn))?.KeyState;
  if (state === (enable ? "Enabled" : "Disabled")) return;
  await run.session.call(
    operation,
    (client, abortSignal) =>
      enable
        ? client.send(new EnableKeyCommand({ KeyId: arn }), { abortSignal })
        : client.send(new DisableKeyCommand({ KeyId: arn }), { abortSignal }),
    { idempotent: true, key: run.key.name, version, arn },
  );
  run.session.ctx.logger.info(
    { op: operation, kms: run.session.destination.name, key: run.key.name, version, arn },
    enable ? "aws-kms key enabled" : "aws-kms key disabled",
  );
}

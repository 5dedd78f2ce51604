import { randomBytes } from "node:crypto";
import { DecryptCommand, EncryptCommand, type KeyState } from "@aws-sdk/client-kms";
import type { RemoteCopy, RemoteVersionState, VersionSource } from "../kms-provider.js";
import { latestOf, replicasOf } from "./copy.js";
import { describeKey } from "./remote-keys.js";
import type { AwsRun } from "./run.js";
import { isSymmetric, KEY_SPECS, keyUsageOf } from "./support.js";
import { comparePublicKey, type Outcome } from "./verify.js";

/**
 * verify for the multi-Region replicas of one version: each replica exists in its region as a REPLICA of the
 * expected spec, usage and origin, in the version's state; the region's alias names it when the version is
 * the latest; an asymmetric replica returns our public key; an AES replica encrypts what the primary
 * decrypts, which proves both hold the same material.
 */
export async function verifyReplicas(run: AwsRun, copy: RemoteCopy, source: VersionSource): Promise<Outcome> {
  const remote = copy.versions.find((version) => version.version === source.version);
  if (!remote) return { ok: false, reason: `v${source.version} is not in the copy` };
  const latest = latestOf(copy)?.version === remote.version;
  for (const [region, arn] of Object.entries(replicasOf(remote))) {
    const regional = run.inRegion(region);
    const metadata = await describeKey(regional, arn);
    if (!metadata) return { ok: false, reason: `replica ${arn} does not exist` };
    const expected = { spec: KEY_SPECS[run.key.type], usage: keyUsageOf(run.key) };
    const type = metadata.MultiRegionConfiguration?.MultiRegionKeyType;
    if (
      metadata.KeySpec !== expected.spec ||
      metadata.KeyUsage !== expected.usage ||
      metadata.Origin !== "EXTERNAL" ||
      type !== "REPLICA"
    ) {
      return {
        ok: false,
        reason: `replica ${arn} is ${metadata.KeySpec} ${metadata.KeyUsage} ${metadata.Origin} ${type}, expected ${expected.spec} ${expected.usage} EXTERNAL REPLICA`,
      };
    }
    const state = stateOf(metadata.KeyState);
    if (state !== remote.state) {
      return { ok: false, reason: `replica ${arn}: expected ${remote.state}, AWS KMS reports ${state}` };
    }
    if (latest) {
      const aliasTarget = (await describeKey(regional, copy.remoteName))?.Arn;
      if (aliasTarget !== arn) {
        return {
          ok: false,
          reason: `alias ${copy.remoteName} in ${region} points at ${aliasTarget ?? "nothing"}, not ${arn}`,
        };
      }
    }
    if (state !== "enabled") continue;
    const outcome = isSymmetric(run.key)
      ? await crossRegionRoundTrip(regional, arn, run, remote.remoteId)
      : await comparePublicKey(regional, arn, source);
    if (!outcome.ok) return { ok: false, reason: `replica in ${region}: ${outcome.reason ?? "differs"}` };
  }
  return { ok: true };
}

function stateOf(state: KeyState | undefined): RemoteVersionState | "pending-deletion" {
  if (state === "Enabled") return "enabled";
  if (state === "Disabled") return "disabled";
  if (state === "PendingDeletion" || state === "PendingReplicaDeletion") return "pending-deletion";
  return "pending";
}

/** Encrypt with the replica, decrypt with the primary in its own region. */
async function crossRegionRoundTrip(
  replicaRun: AwsRun,
  replicaArn: string,
  primaryRun: AwsRun,
  primaryArn: string,
): Promise<Outcome> {
  const plaintext = randomBytes(32);
  const context = { "keyferry:verify": replicaRun.session.ctx.operationId };
  const encrypted = await replicaRun.session.call(
    "Encrypt",
    (client, abortSignal) =>
      client.send(
        new EncryptCommand({ KeyId: replicaArn, Plaintext: plaintext, EncryptionContext: context }),
        {
          abortSignal,
        },
      ),
    { idempotent: true, key: replicaRun.key.name, arn: replicaArn },
  );
  const decrypted = await primaryRun.session.call(
    "Decrypt",
    (client, abortSignal) =>
      client.send(
        new DecryptCommand({
          KeyId: primaryArn,
          CiphertextBlob: encrypted.CiphertextBlob,
          EncryptionContext: context,
        }),
        { abortSignal },
      ),
    { idempotent: true, key: primaryRun.key.name, arn: primaryArn },
  );
  if (!decrypted.Plaintext || !Buffer.from(decrypted.Plaintext).equals(plaintext)) {
    return { ok: false, reason: "the primary did not decrypt what the replica encrypted" };
  }
  return { ok: true };
}

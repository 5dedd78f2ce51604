import { randomBytes } from "node:crypto";
import { DecryptCommand, EncryptCommand, GetPublicKeyCommand } from "@aws-sdk/client-kms";
import type { RemoteCopy, VerifyReport, VersionSource } from "../kms-provider.js";
import { keyMaterialIdOf, latestOf, versionsByKey } from "./copy.js";
import { type KeyFacts, keyFactsOf, statusOf } from "./describe.js";
import { describeKey } from "./remote-keys.js";
import { verifyReplicas } from "./replica-verify.js";
import type { AwsRun } from "./run.js";
import { isSymmetric, KEY_SPECS, keyUsageOf } from "./support.js";

/**
 * Prove that the copy holds our versions: each KMS key has the expected spec, usage, origin and state, the
 * alias points at the latest version, asymmetric keys return our public key, and AES keys encrypt and
 * decrypt random bytes with the expected material current. Older AES versions inside a single key cannot be
 * exercised (Encrypt always uses the current material); their material must be listed as imported.
 * Disabled versions are checked by state only: KMS refuses to use them. Multi-Region replicas are checked
 * in their regions (replica-verify.ts).
 */

export type Outcome = { ok: boolean; reason?: string };

export async function verifyCopy(
  run: AwsRun,
  copy: RemoteCopy,
  versions: readonly VersionSource[],
): Promise<VerifyReport> {
  const facts = await keyFactsOf(run, copy);
  const aliasTarget = (await describeKey(run, copy.remoteName))?.Arn;
  const results: VerifyReport["versions"] = [];
  for (const source of versions) {
    const primary = await verifyVersion(run, copy, source, facts, aliasTarget);
    results.push({
      version: source.version,
      ...(primary.ok ? await verifyReplicas(run, copy, source) : primary),
    });
  }
  return { ok: results.length > 0 && results.every((result) => result.ok), versions: results };
}

async function verifyVersion(
  run: AwsRun,
  copy: RemoteCopy,
  source: VersionSource,
  facts: Map<string, KeyFacts>,
  aliasTarget: string | undefined,
): Promise<Outcome> {
  const remote = copy.versions.find((version) => version.version === source.version);
  if (!remote) return { ok: false, reason: `v${source.version} is not in the copy` };
  const arn = remote.remoteId;
  const keyFacts = facts.get(arn);
  const metadata = keyFacts?.metadata;
  if (!metadata) return { ok: false, reason: `KMS key ${arn} does not exist` };
  const expected = { spec: KEY_SPECS[run.key.type], usage: keyUsageOf(run.key) };
  if (
    metadata.KeySpec !== expected.spec ||
    metadata.KeyUsage !== expected.usage ||
    metadata.Origin !== "EXTERNAL"
  ) {
    return {
      ok: false,
      reason: `KMS key ${arn} is ${metadata.KeySpec} ${metadata.KeyUsage} ${metadata.Origin}, expected ${expected.spec} ${expected.usage} EXTERNAL`,
    };
  }
  const status = statusOf(remote, keyFacts);
  if (status !== remote.state)
    return { ok: false, reason: `expected ${remote.state}, AWS KMS reports ${status}` };
  if (remote.version === latestOf(copy)?.version && aliasTarget !== arn) {
    return {
      ok: false,
      reason: `alias ${copy.remoteName} points at ${aliasTarget ?? "nothing"}, not ${arn}`,
    };
  }
  if (status !== "enabled") return { ok: true };
  if (!isSymmetric(run.key)) return comparePublicKey(run, arn, source);
  const materialId = keyMaterialIdOf(remote);
  const newestOnKey = versionsByKey(copy).get(arn)?.at(-1)?.version === remote.version;
  if (!newestOnKey) return { ok: true };
  if (materialId !== undefined && metadata.CurrentKeyMaterialId !== materialId) {
    return {
      ok: false,
      reason: `key material ${metadata.CurrentKeyMaterialId} is current, expected ${materialId}`,
    };
  }
  return roundTrip(run, arn, materialId);
}

export async function comparePublicKey(run: AwsRun, arn: string, source: VersionSource): Promise<Outcome> {
  if (!source.publicKey) return { ok: false, reason: `v${source.version} has no public key to compare` };
  const answer = await run.session.call(
    "GetPublicKey",
    (client, abortSignal) => client.send(new GetPublicKeyCommand({ KeyId: arn }), { abortSignal }),
    { idempotent: true, key: run.key.name, version: source.version, arn },
  );
  const same = answer.PublicKey !== undefined && Buffer.from(answer.PublicKey).equals(source.publicKey);
  return same ? { ok: true } : { ok: false, reason: "the public key in AWS KMS differs from keyferry's" };
}

async function roundTrip(run: AwsRun, arn: string, materialId: string | undefined): Promise<Outcome> {
  const plaintext = randomBytes(32);
  const context = { "keyferry:verify": run.session.ctx.operationId };
  const fields = { idempotent: true, key: run.key.name, arn };
  const encrypted = await run.session.call(
    "Encrypt",
    (client, abortSignal) =>
      client.send(new EncryptCommand({ KeyId: arn, Plaintext: plaintext, EncryptionContext: context }), {
        abortSignal,
      }),
    fields,
  );
  const decrypted = await run.session.call(
    "Decrypt",
    (client, abortSignal) =>
      client.send(
        new DecryptCommand({
          KeyId: arn,
          CiphertextBlob: encrypted.CiphertextBlob,
          EncryptionContext: context,
        }),
        { abortSignal },
      ),
    fields,
  );
  if (!decrypted.Plaintext || !Buffer.from(decrypted.Plaintext).equals(plaintext)) {
    return { ok: false, reason: "an encrypt/decrypt round trip did not return the plaintext" };
  }
  if (
    materialId !== undefined &&
    decrypted.KeyMaterialId !== undefined &&
    decrypted.KeyMaterialId !== materialId
  ) {
    return {
      ok: false,
      reason: `the round trip used key material ${decrypted.KeyMaterialId}, expected ${materialId}`,
    };
  }
  return { ok: true };
}

import {
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type ImportKeyMaterialCommandInput,
  type ImportKeyMaterialCommandOutput,
} from "@aws-sdk/client-kms";
import type { KeyType } from "../../crypto/key-types.js";
import { type AwsWrappingAlgorithm, awsAlgorithmsFor, wrapForAws } from "../../crypto/wrap-aws.js";
import type { VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { ENTRY, readEntry, writeDone, writeIntent } from "./journal.js";
import { describeKey, malformed } from "./remote-keys.js";
import { materialsOf } from "./rotation.js";
import type { AwsRun } from "./run.js";
import { isSymmetric } from "./support.js";

/**
 * Importing key material (SPEC section 3): fresh import parameters fetched inside the step (tokens and
 * wrapping keys live 24 hours), the plaintext wrapped inside VersionSource.withMaterial so that it exists
 * only there, then ImportKeyMaterial with KEY_MATERIAL_DOES_NOT_EXPIRE.
 */

/** The description of AES material: how a retry, describe and listManaged tell versions apart. */
export const materialDescription = (version: number) => `v${version}`;

/** SPEC section 2: AES under RSAES_OAEP_SHA_256, RSA and EC under RSA_AES_KEY_WRAP_SHA_256 (any size fits). */
export function wrappingAlgorithmFor(type: KeyType): AwsWrappingAlgorithm {
  const allowed = awsAlgorithmsFor(type);
  if (allowed.includes("RSA_AES_KEY_WRAP_SHA_256")) return "RSA_AES_KEY_WRAP_SHA_256";
  return allowed[0] ?? "RSAES_OAEP_SHA_256";
}

/**
 * The first material of a key made for `version`. Safe to repeat: a key already past PendingImport has it
 * (an earlier attempt's answer was lost), and re-importing the same material is accepted anyway.
 * Returns the KeyMaterialId of symmetric keys.
 */
export async function importFirstMaterial(
  run: AwsRun,
  arn: string,
  version: VersionSource,
  replica?: { keyMaterialId: string | undefined },
): Promise<string | undefined> {
  const metadata = await describeKey(run, arn);
  if (!metadata)
    throw new ProviderError("permanent", "NotFoundException", `AWS KMS key ${arn} does not exist`);
  if (metadata.KeyState === "Creating") {
    // A new multi-Region replica is Creating for a few seconds (ReplicateKey reference): the step retries.
    throw new ProviderError(
      "transient",
      "KMSInvalidStateException",
      `AWS KMS key ${arn} is still being created`,
    );
  }
  if (metadata.KeyState === "Enabled" || metadata.KeyState === "Disabled") {
    if (!isSymmetric(run.key)) return undefined;
    // Already imported by an earlier attempt; later versions may have been rotated in since.
    const description = materialDescription(version.version);
    const found = (await materialsOf(run, arn)).find((m) => m.KeyMaterialDescription === description);
    return found?.KeyMaterialId ?? metadata.CurrentKeyMaterialId;
  }
  if (metadata.KeyState !== "PendingImport") {
    throw new ProviderError(
      "permanent",
      "KMSInvalidStateException",
      `AWS KMS key ${arn} is ${metadata.KeyState}: key material cannot be imported into it`,
    );
  }
  // A replica takes the primary's material as EXISTING_KEY_MATERIAL (ImportKeyMaterial reference).
  const replicaExtra: Partial<ImportKeyMaterialCommandInput> =
    replica === undefined
      ? {}
      : {
          ImportType: "EXISTING_KEY_MATERIAL",
          ...(replica.keyMaterialId === undefined ? {} : { KeyMaterialId: replica.keyMaterialId }),
        };
  const extra = isSymmetric(run.key)
    ? { KeyMaterialDescription: materialDescription(version.version), ...replicaExtra }
    : {};
  const answer = await wrapAndImport(run, arn, version, extra, true);
  return answer.KeyMaterialId;
}

/**
 * A later version of a single-key AES copy, as new material waiting for rotation. Not idempotent (the same
 * material again is IncorrectKeyMaterialException), so journaled: a retry first looks for material described
 * as this version.
 */
export async function importNewMaterial(run: AwsRun, arn: string, version: VersionSource): Promise<string> {
  const { journal } = run.session.ctx;
  const entryName = ENTRY.importNewMaterial(version.version);
  const entry = readEntry(journal, entryName);
  if (entry?.keyMaterialId) return entry.keyMaterialId;
  const description = materialDescription(version.version);
  if (entry) {
    const found = (await materialsOf(run, arn)).find((m) => m.KeyMaterialDescription === description);
    if (found?.KeyMaterialId) {
      await writeDone(journal, entryName, run.now(), { arn, keyMaterialId: found.KeyMaterialId });
      return found.KeyMaterialId;
    }
  }
  await writeIntent(journal, entryName, run.now());
  const answer = await wrapAndImport(
    run,
    arn,
    version,
    { ImportType: "NEW_KEY_MATERIAL", KeyMaterialDescription: description },
    false,
  );
  if (!answer.KeyMaterialId) throw malformed("ImportKeyMaterial", "KeyMaterialId");
  await writeDone(journal, entryName, run.now(), { arn, keyMaterialId: answer.KeyMaterialId });
  return answer.KeyMaterialId;
}

async function wrapAndImport(
  run: AwsRun,
  arn: string,
  version: VersionSource,
  extra: Partial<ImportKeyMaterialCommandInput>,
  idempotent: boolean,
): Promise<ImportKeyMaterialCommandOutput> {
  const { session, key } = run;
  const fields = { key: key.name, version: version.version, arn };
  const algorithm = wrappingAlgorithmFor(key.type);
  const parameters = await session.call(
    "GetParametersForImport",
    (client, abortSignal) =>
      client.send(
        new GetParametersForImportCommand({
          KeyId: arn,
          WrappingAlgorithm: algorithm,
          WrappingKeySpec: run.wrappingKeySpec,
        }),
        { abortSignal },
      ),
    { idempotent: true, ...fields },
  );
  const { ImportToken: importToken, PublicKey: wrappingKey } = parameters;
  if (!importToken || !wrappingKey) throw malformed("GetParametersForImport", "ImportToken or PublicKey");
  const encrypted = await version.withMaterial(async (material) =>
    wrapForAws({ material, keyType: key.type, wrappingKey: Buffer.from(wrappingKey), algorithm }),
  );
  try {
    const answer = await session.call(
      "ImportKeyMaterial",
      (client, abortSignal) =>
        client.send(
          new ImportKeyMaterialCommand({
            KeyId: arn,
            ImportToken: importToken,
            EncryptedKeyMaterial: encrypted,
            ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
            ...extra,
          }),
          { abortSignal },
        ),
      { idempotent, ...fields },
    );
    session.ctx.logger.info(
      { op: "ImportKeyMaterial", kms: session.destination.name, ...fields },
      "aws-kms key material imported",
    );
    return answer;
  } finally {
    // Not a secret (only KMS can unwrap it), but there is no reason to keep it around either.
    encrypted.fill(0);
  }
}

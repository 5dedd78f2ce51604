import { randomUUID } from "node:crypto";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { ACCOUNT, expectKmsError, kmsClient, REGION } from "./helpers.js";

/** Key, alias and usage refusals of the real service, each seen through the SDK under its real name. */

const DAY = 24 * 3600 * 1000;

describe("AWS KMS emulator: key, alias and usage refusals", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;
  let clock = Date.now();

  const createKey = async (input: CreateKeyCommand["input"] = {}) =>
    (await kms.send(new CreateKeyCommand(input))).KeyMetadata?.KeyId ?? "";

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator({ now: () => clock });
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  it("validates CreateKey as the service does", async () => {
    const missingUsage = await expectKmsError(
      kms.send(new CreateKeyCommand({ KeySpec: "RSA_2048" })),
      "ValidationException",
    );
    expect(missingUsage.message).toBe(
      "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
    await expectKmsError(
      kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "ENCRYPT_DECRYPT" })),
      "ValidationException",
    );
    await expectKmsError(
      kms.send(new CreateKeyCommand({ KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "SIGN_VERIFY" })),
      "ValidationException",
    );
    const bogus = await expectKmsError(
      kms.send(new CreateKeyCommand({ KeySpec: "AES_512" as "SYMMETRIC_DEFAULT" })),
      "ValidationException",
    );
    expect(bogus.message).toMatch(
      /^1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint/,
    );
    const hmac = await expectKmsError(
      kms.send(new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" })),
      "UnsupportedOperationException",
    );
    expect(hmac.message).toMatch(/HMAC_256 is not supported by this emulator/);
    await expectKmsError(
      kms.send(new CreateKeyCommand({ Origin: "AWS_CLOUDHSM" })),
      "UnsupportedOperationException",
    );
    // An ECC key may be created for key agreement, as in the real service.
    const agreement = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P384", KeyUsage: "KEY_AGREEMENT" }),
    );
    expect(agreement.KeyMetadata?.KeyAgreementAlgorithms).toEqual(["ECDH"]);
  });

  it("answers NotFoundException for unknown keys, malformed ids and ARNs of other regions", async () => {
    const unknown = randomUUID();
    const error = await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: unknown })),
      "NotFoundException",
    );
    expect(error.message).toBe(`Key 'arn:aws:kms:${REGION}:${ACCOUNT}:key/${unknown}' does not exist`);
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: "not-a-key" })), "NotFoundException");
    await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: unknown })), "NotFoundException");
    const keyId = await createKey();
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}` })),
      "NotFoundException",
    );
    // Keys are regional: another region's client does not see this one.
    const elsewhere = kmsClient(emulator.url, { maxAttempts: 1, region: "us-east-1" });
    try {
      await expectKmsError(elsewhere.send(new DescribeKeyCommand({ KeyId: keyId })), "NotFoundException");
      expect((await elsewhere.send(new ListKeysCommand({}))).Keys).toEqual([]);
      const created = await elsewhere.send(new CreateKeyCommand({}));
      expect(created.KeyMetadata?.Arn).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
    } finally {
      elsewhere.destroy();
    }
  });

  it("refuses alias names outside alias/ and the reserved alias/aws/ prefix", async () => {
    const keyId = await createKey();
    const reserved = await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: "alias/aws/keyferry", TargetKeyId: keyId })),
      "NotAuthorizedException",
    );
    expect(reserved.message).toMatch(/reserved for AWS managed keys/);
    const prefix = await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: "keyferry", TargetKeyId: keyId })),
      "ValidationException",
    );
    expect(prefix.message).toMatch(/^Alias must start with the prefix "alias\/"/);
    await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: "alias/with space", TargetKeyId: keyId })),
      "ValidationException",
    );
    await kms.send(new CreateAliasCommand({ AliasName: "alias/first", TargetKeyId: keyId }));
    await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: "alias/second", TargetKeyId: "alias/first" })),
      "ValidationException",
    );
    // Management operations take key ids and ARNs, not aliases (their API reference says so).
    await expectKmsError(kms.send(new EnableKeyCommand({ KeyId: "alias/first" })), "NotFoundException");
  });

  it("refuses keys used against their usage, and IncorrectKeyException for another key's ciphertext", async () => {
    const signing = await createKey({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" });
    const symmetric = await createKey();
    const other = await createKey();
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: signing, Plaintext: Buffer.from("x") })),
      "InvalidKeyUsageException",
    );
    await expectKmsError(
      kms.send(
        new SignCommand({ KeyId: symmetric, Message: Buffer.from("x"), SigningAlgorithm: "ECDSA_SHA_256" }),
      ),
      "InvalidKeyUsageException",
    );
    await expectKmsError(
      kms.send(new GetPublicKeyCommand({ KeyId: symmetric })),
      "UnsupportedOperationException",
    );
    const encrypted = await kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from("x") }));
    await expectKmsError(
      kms.send(new DecryptCommand({ KeyId: other, CiphertextBlob: encrypted.CiphertextBlob })),
      "IncorrectKeyException",
    );
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from("not a ciphertext of this emulator") })),
      "InvalidCiphertextException",
    );
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from("x"), DryRun: true })),
      "DryRunOperationException",
    );
  });

  it("refuses operations on a key pending deletion, and deletes it when the waiting period ends", async () => {
    const keyId = await createKey({ Origin: "EXTERNAL" });
    const parameters = await kms.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: "RSAES_OAEP_SHA_256",
        WrappingKeySpec: "RSA_2048",
      }),
    );
    const wrapped = wrapForAws({
      material: Buffer.alloc(32, 7),
      keyType: "aes256-gcm96",
      wrappingKey: parameters.PublicKey ?? new Uint8Array(),
      algorithm: "RSAES_OAEP_SHA_256",
    });
    const importMaterial = () =>
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrapped,
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      );
    await importMaterial();
    const ciphertext = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })))
      .CiphertextBlob;
    await kms.send(new CreateAliasCommand({ AliasName: "alias/doomed", TargetKeyId: keyId }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId }));

    const refused = [
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })),
      kms.send(new DecryptCommand({ CiphertextBlob: ciphertext })),
      kms.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: "RSAES_OAEP_SHA_256",
          WrappingKeySpec: "RSA_2048",
        }),
      ),
      importMaterial(),
      kms.send(new CreateAliasCommand({ AliasName: "alias/late", TargetKeyId: keyId })),
      kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: "k", TagValue: "v" }] })),
      kms.send(new EnableKeyCommand({ KeyId: keyId })),
    ];
    for (const attempt of refused) {
      const error = await expectKmsError(attempt, "KMSInvalidStateException");
      expect(error.message).toMatch(/is pending deletion\.$/);
    }
    // Deleting imported material is allowed while pending deletion and leaves the state alone.
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe(
      "PendingDeletion",
    );

    clock += 30 * DAY + 1000;
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: keyId })), "NotFoundException");
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases ?? [];
    expect(aliases.map((alias) => alias.AliasName)).not.toContain("alias/doomed");
  });

  it("answers UnknownOperationException for operations it does not implement", async () => {
    const keyId = await createKey();
    const error = await expectKmsError(
      kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256" })),
      "UnknownOperationException",
    );
    expect(error.message).toMatch(/GenerateDataKey is not implemented by this emulator/);
  });
});

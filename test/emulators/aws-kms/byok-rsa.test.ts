import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { opensslGenerateMaterial, opensslOaepEncrypt, opensslRsaAesWrap } from "../../helpers/openssl.js";
import { ACCOUNT, expectKmsError, kmsClient, opensslPublicKeyDer, REGION } from "./helpers.js";

/**
 * SPEC section 4's AWS distribute flow for an RSA key, end to end through the official SDK, with the
 * wrapping done by the openssl command line exactly as the AWS developer guide's recipe does it.
 */

const generateKeyPairAsync = promisify(generateKeyPair);

describe("AWS KMS emulator: BYOK of an RSA_2048 encryption key", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;
  let keyId: string;
  let material: Buffer;
  let importToken: Uint8Array;
  let wrappingKey: Uint8Array;

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator();
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  it("creates an EXTERNAL key that waits for its material", async () => {
    const created = await kms.send(
      new CreateKeyCommand({
        KeySpec: "RSA_2048",
        KeyUsage: "ENCRYPT_DECRYPT",
        Origin: "EXTERNAL",
        Description: "keyferry demo",
        Tags: [{ TagKey: "keyferry:key", TagValue: "demo-rsa" }],
      }),
    );
    const metadata = created.KeyMetadata;
    keyId = metadata?.KeyId ?? "";
    expect(metadata).toMatchObject({
      AWSAccountId: ACCOUNT,
      Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`,
      Enabled: false,
      KeyState: "PendingImport",
      Origin: "EXTERNAL",
      KeyManager: "CUSTOMER",
      KeySpec: "RSA_2048",
      CustomerMasterKeySpec: "RSA_2048",
      KeyUsage: "ENCRYPT_DECRYPT",
      EncryptionAlgorithms: ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
      Description: "keyferry demo",
      MultiRegion: false,
    });
    expect(metadata?.CreationDate).toBeInstanceOf(Date);
    expect(metadata?.ExpirationModel).toBeUndefined();
  });

  it("imports material wrapped by the developer guide's openssl recipe (RSA_AES_KEY_WRAP_SHA_256, RSA_4096)", async () => {
    const before = Date.now();
    const [parameters, generated] = await Promise.all([
      kms.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: "RSA_AES_KEY_WRAP_SHA_256",
          WrappingKeySpec: "RSA_4096",
        }),
      ),
      opensslGenerateMaterial("rsa-2048"),
    ]);
    material = generated;
    importToken = parameters.ImportToken ?? new Uint8Array();
    wrappingKey = parameters.PublicKey ?? new Uint8Array();
    expect(parameters.KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    const validTo = parameters.ParametersValidTo?.getTime() ?? 0;
    expect(validTo - before).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000);
    expect(validTo - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);

    const wrapped = await opensslRsaAesWrap(wrappingKey, material, "sha256");
    const imported = await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: importToken,
        EncryptedKeyMaterial: wrapped,
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );
    expect(imported.KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    // Asymmetric keys have no material ids: only symmetric keys rotate.
    expect(imported.KeyMaterialId).toBeUndefined();

    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata).toMatchObject({
      KeyState: "Enabled",
      Enabled: true,
      ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    expect(described.KeyMetadata?.ValidTo).toBeUndefined();
    expect(described.KeyMetadata?.CurrentKeyMaterialId).toBeUndefined();
  });

  it("hands out the public key openssl derives, and decrypts what openssl encrypted with it", async () => {
    const got = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const expected = await opensslPublicKeyDer(material);
    expect(Buffer.from(got.PublicKey ?? [])).toEqual(expected);
    expect(got).toMatchObject({ KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT" });

    const text = "keyferry carries this key into AWS KMS";
    const ciphertext = await opensslOaepEncrypt(expected, Buffer.from(text), "sha256");
    const decrypted = await kms.send(
      new DecryptCommand({
        KeyId: keyId,
        CiphertextBlob: ciphertext,
        EncryptionAlgorithm: "RSAES_OAEP_SHA_256",
      }),
    );
    expect(Buffer.from(decrypted.Plaintext ?? []).toString()).toBe(text);
    expect(decrypted.EncryptionAlgorithm).toBe("RSAES_OAEP_SHA_256");

    const encrypted = await kms.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from(text),
        EncryptionAlgorithm: "RSAES_OAEP_SHA_1",
      }),
    );
    const roundTrip = await kms.send(
      new DecryptCommand({
        KeyId: keyId,
        CiphertextBlob: encrypted.CiphertextBlob,
        EncryptionAlgorithm: "RSAES_OAEP_SHA_1",
      }),
    );
    expect(Buffer.from(roundTrip.Plaintext ?? []).toString()).toBe(text);
    await expectKmsError(
      kms.send(
        new EncryptCommand({
          KeyId: keyId,
          Plaintext: Buffer.alloc(191),
          EncryptionAlgorithm: "RSAES_OAEP_SHA_256",
        }),
      ),
      "ValidationException",
    );
  });

  it("accepts the same material again and refuses different or mismatched material", async () => {
    const again = await opensslRsaAesWrap(wrappingKey, material, "sha256");
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: importToken,
        EncryptedKeyMaterial: again,
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );

    const other = await generateKeyPairAsync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "der" },
      publicKeyEncoding: { type: "spki", format: "der" },
    });
    const differentError = await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: importToken,
          EncryptedKeyMaterial: await opensslRsaAesWrap(wrappingKey, other.privateKey, "sha256"),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "IncorrectKeyMaterialException",
    );
    expect(differentError.message).toMatch(/cannot change/);

    // An EC key is not RSA_2048 material, whatever the wrapping.
    const ecMaterial = await opensslGenerateMaterial("ecdsa-p256");
    await expectKmsError(
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: importToken,
          EncryptedKeyMaterial: await opensslRsaAesWrap(wrappingKey, ecMaterial, "sha256"),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      ),
      "IncorrectKeyMaterialException",
    );
    // The key still works with its own material.
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata?.KeyState).toBe("Enabled");
  });

  it("refuses RSAES_OAEP_* for RSA material, which only RSA_AES_KEY_WRAP_* can carry", async () => {
    for (const algorithm of ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] as const) {
      const error = await expectKmsError(
        kms.send(
          new GetParametersForImportCommand({
            KeyId: keyId,
            WrappingAlgorithm: algorithm,
            WrappingKeySpec: "RSA_2048",
          }),
        ),
        "UnsupportedOperationException",
      );
      expect(error.message).toMatch(/RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1/);
    }
  });
});

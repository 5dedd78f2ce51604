import { randomBytes } from "node:crypto";
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { opensslGenerateMaterial, opensslOaepEncrypt } from "../../helpers/openssl.js";
import { expectKmsError, kmsClient } from "./helpers.js";

/**
 * SPEC section 4's symmetric flow: one KMS key for all versions, each version imported as new key material
 * (RSAES_OAEP_SHA_256, wrapped with `openssl pkeyutl`) and made current with RotateKeyOnDemand.
 */

const CONTEXT = { "keyferry:key": "payments" };

describe("AWS KMS emulator: BYOK of an AES key, rotation and deleting old material", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;
  let keyId: string;
  let token: Uint8Array;
  let wrappingKey: Uint8Array;
  let v1: Buffer;
  let v2: Buffer;
  let v1Id: string;
  let v2Id: string;
  let oldCiphertext: Uint8Array;
  let newCiphertext: Uint8Array;

  const importMaterial = async (material: Buffer, extra: Partial<ImportKeyMaterialCommand["input"]> = {}) =>
    kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: token,
        EncryptedKeyMaterial: await opensslOaepEncrypt(wrappingKey, material, "sha256"),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        ...extra,
      }),
    );
  const decrypt = (ciphertext: Uint8Array) =>
    kms.send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: CONTEXT }));

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator();
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
    const created = await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL" }));
    keyId = created.KeyMetadata?.KeyId ?? "";
    expect(created.KeyMetadata).toMatchObject({
      KeySpec: "SYMMETRIC_DEFAULT",
      KeyUsage: "ENCRYPT_DECRYPT",
      KeyState: "PendingImport",
      EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
    });
    const parameters = await kms.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: "RSAES_OAEP_SHA_256",
        WrappingKeySpec: "RSA_2048",
      }),
    );
    token = parameters.ImportToken ?? new Uint8Array();
    wrappingKey = parameters.PublicKey ?? new Uint8Array();
    [v1, v2] = await Promise.all([
      opensslGenerateMaterial("aes256-gcm96"),
      opensslGenerateMaterial("aes256-gcm96"),
    ]);
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  it("imports v1, then encrypts and decrypts inside the emulator", async () => {
    const imported = await importMaterial(v1, { KeyMaterialDescription: "v1" });
    v1Id = imported.KeyMaterialId ?? "";
    expect(v1Id).toMatch(/^[0-9a-f]{64}$/);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata).toMatchObject({ KeyState: "Enabled", CurrentKeyMaterialId: v1Id });

    const encrypted = await kms.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from("written under v1"),
        EncryptionContext: CONTEXT,
      }),
    );
    oldCiphertext = encrypted.CiphertextBlob ?? new Uint8Array();
    const decrypted = await decrypt(oldCiphertext);
    expect(Buffer.from(decrypted.Plaintext ?? []).toString()).toBe("written under v1");
    expect(decrypted.KeyMaterialId).toBe(v1Id);
    // The encryption context is authenticated: without it (or with another) nothing decrypts.
    await expectKmsError(
      kms.send(new DecryptCommand({ CiphertextBlob: oldCiphertext })),
      "InvalidCiphertextException",
    );
  });

  it("rotates to v2: new material pending, RotateKeyOnDemand makes it current, v1 still decrypts", async () => {
    const imported = await importMaterial(v2, {
      ImportType: "NEW_KEY_MATERIAL",
      KeyMaterialDescription: "v2",
    });
    v2Id = imported.KeyMaterialId ?? "";
    expect(v2Id).not.toBe(v1Id);
    const pending = await kms.send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(pending.Rotations).toEqual([
      expect.objectContaining({
        KeyMaterialId: v1Id,
        KeyMaterialDescription: "v1",
        KeyMaterialState: "CURRENT",
      }),
      expect.objectContaining({
        KeyMaterialId: v2Id,
        KeyMaterialDescription: "v2",
        KeyMaterialState: "PENDING_ROTATION",
        ImportState: "IMPORTED",
      }),
    ]);

    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const rotated = await kms.send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(rotated.Rotations).toEqual([
      expect.objectContaining({
        KeyMaterialId: v1Id,
        KeyMaterialState: "NON_CURRENT",
        ImportState: "IMPORTED",
      }),
      expect.objectContaining({
        KeyMaterialId: v2Id,
        KeyMaterialState: "CURRENT",
        RotationType: "ON_DEMAND",
        RotationDate: expect.any(Date),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    ]);
    const rotationsOnly = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }));
    expect(rotationsOnly.Rotations?.map((entry) => entry.KeyMaterialId)).toEqual([v2Id]);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata?.CurrentKeyMaterialId).toBe(v2Id);

    const old = await decrypt(oldCiphertext);
    expect(Buffer.from(old.Plaintext ?? []).toString()).toBe("written under v1");
    expect(old.KeyMaterialId).toBe(v1Id);
    const encrypted = await kms.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from("written under v2"),
        EncryptionContext: CONTEXT,
      }),
    );
    newCiphertext = encrypted.CiphertextBlob ?? new Uint8Array();
    expect((await decrypt(newCiphertext)).KeyMaterialId).toBe(v2Id);
  });

  it("refuses importing v1 as new material, and v2's bytes under v1's material id", async () => {
    await expectKmsError(
      importMaterial(v1, { ImportType: "NEW_KEY_MATERIAL" }),
      "IncorrectKeyMaterialException",
    );
    await expectKmsError(
      importMaterial(v2, { ImportType: "EXISTING_KEY_MATERIAL", KeyMaterialId: v1Id }),
      "IncorrectKeyMaterialException",
    );
    await expectKmsError(
      importMaterial(randomBytes(32), { ImportType: "EXISTING_KEY_MATERIAL" }),
      "IncorrectKeyMaterialException",
    );
  });

  it("deleting v1's material halts the whole key until v1 is imported again, as the real service does", async () => {
    const deleted = await kms.send(
      new DeleteImportedKeyMaterialCommand({ KeyId: keyId, KeyMaterialId: v1Id }),
    );
    expect(deleted.KeyMaterialId).toBe(v1Id);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata).toMatchObject({
      KeyState: "PendingImport",
      Enabled: false,
      CurrentKeyMaterialId: v2Id,
    });
    const rotations = await kms.send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(rotations.Rotations?.map((entry) => [entry.KeyMaterialId, entry.ImportState])).toEqual([
      [v1Id, "PENDING_IMPORT"],
      [v2Id, "IMPORTED"],
    ]);
    await expectKmsError(decrypt(oldCiphertext), "KMSInvalidStateException");
    await expectKmsError(decrypt(newCiphertext), "KMSInvalidStateException");
    await expectKmsError(
      kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })),
      "KMSInvalidStateException",
    );

    const reimported = await importMaterial(v1, { ImportType: "EXISTING_KEY_MATERIAL", KeyMaterialId: v1Id });
    expect(reimported.KeyMaterialId).toBe(v1Id);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe("Enabled");
    expect(Buffer.from((await decrypt(oldCiphertext)).Plaintext ?? []).toString()).toBe("written under v1");
    expect(Buffer.from((await decrypt(newCiphertext)).Plaintext ?? []).toString()).toBe("written under v2");
    // The description given at the first import of v1 stays when a re-import gives none.
    const listed = await kms.send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(listed.Rotations?.[0]?.KeyMaterialDescription).toBe("v1");
  });

  it("without KeyMaterialId, DeleteImportedKeyMaterial deletes the current material", async () => {
    const deleted = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(deleted.KeyMaterialId).toBe(v2Id);
    await expectKmsError(decrypt(newCiphertext), "KMSInvalidStateException");
    await importMaterial(v2);
    expect(Buffer.from((await decrypt(newCiphertext)).Plaintext ?? []).toString()).toBe("written under v2");
  });

  it("allows at most 25 on-demand rotations (LimitExceededException)", async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL" }));
    const id = created.KeyMetadata?.KeyId ?? "";
    const parameters = await kms.send(
      new GetParametersForImportCommand({
        KeyId: id,
        WrappingAlgorithm: "RSAES_OAEP_SHA_1",
        WrappingKeySpec: "RSA_2048",
      }),
    );
    // Node's OAEP (keyferry's own wrapper) keeps 26 imports fast; the openssl path is proven above.
    const importNew = (first: boolean) =>
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: id,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrapForAws({
            material: randomBytes(32),
            keyType: "aes256-gcm96",
            wrappingKey: parameters.PublicKey ?? new Uint8Array(),
            algorithm: "RSAES_OAEP_SHA_1",
          }),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
          ImportType: first ? undefined : "NEW_KEY_MATERIAL",
        }),
      );
    await importNew(true);
    await expectKmsError(kms.send(new RotateKeyOnDemandCommand({ KeyId: id })), "KMSInvalidStateException");
    for (let rotation = 1; rotation <= 25; rotation++) {
      await importNew(false);
      await kms.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    }
    await importNew(false);
    await expectKmsError(kms.send(new RotateKeyOnDemandCommand({ KeyId: id })), "LimitExceededException");
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: id, Limit: 10 }));
    expect(rotations).toMatchObject({ Truncated: true, NextMarker: expect.any(String) });
    expect(rotations.Rotations).toHaveLength(10);
  });
});

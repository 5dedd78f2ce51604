import { randomBytes } from "node:crypto";
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListKeysCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyMaterial } from "../../../src/crypto/generate.js";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { expectKmsError, kmsClient, REGION } from "./helpers.js";

/**
 * Multi-Region keys through the official SDK, one client per region: CreateKey(MultiRegion) and
 * ReplicateKey, imported material that must be the same in every related key, DescribeKey's
 * MultiRegionConfiguration from each region, ciphertexts that decrypt in another region, rotation from the
 * primary, and deletion of a primary that waits for its replicas (PendingReplicaDeletion).
 */

const OTHER = "us-east-1";
const THIRD = "ap-southeast-2";
const DAY_MS = 24 * 3600 * 1000;

describe("AWS KMS emulator: multi-Region keys", () => {
  let emulator: RunningEmulator;
  let now = Date.now();
  const clients = new Map<string, KMSClient>();
  const kms = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = kmsClient(emulator.url, { region });
      clients.set(region, client);
    }
    return client;
  };

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator({ now: () => now });
  });
  afterAll(async () => {
    for (const client of clients.values()) client.destroy();
    await emulator.close();
  });

  const createPrimary = async (spec: "SYMMETRIC_DEFAULT" | "ECC_NIST_P256" = "SYMMETRIC_DEFAULT") => {
    const created = await kms(REGION).send(
      new CreateKeyCommand({
        MultiRegion: true,
        Origin: "EXTERNAL",
        KeySpec: spec,
        KeyUsage: spec === "SYMMETRIC_DEFAULT" ? "ENCRYPT_DECRYPT" : "SIGN_VERIFY",
      }),
    );
    return created.KeyMetadata?.KeyId ?? "";
  };

  const importInto = async (
    region: string,
    keyId: string,
    material: Buffer,
    type: "aes256-gcm96" | "ecdsa-p256",
    extra: Partial<ImportKeyMaterialCommand["input"]> = {},
  ) => {
    const algorithm = type === "aes256-gcm96" ? "RSAES_OAEP_SHA_256" : "RSA_AES_KEY_WRAP_SHA_256";
    const parameters = await kms(region).send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: algorithm,
        WrappingKeySpec: "RSA_2048",
      }),
    );
    return kms(region).send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: parameters.ImportToken,
        EncryptedKeyMaterial: wrapForAws({
          material,
          keyType: type,
          wrappingKey: Buffer.from(parameters.PublicKey ?? new Uint8Array()),
          algorithm,
        }),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        ...extra,
      }),
    );
  };

  const describeIn = async (region: string, keyId: string) =>
    (await kms(region).send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;

  it("CreateKey(MultiRegion) and ReplicateKey: same mrk- id, one key per region, configuration everywhere", async () => {
    const keyId = await createPrimary();
    expect(keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    const replica = await kms(REGION).send(
      new ReplicateKeyCommand({
        KeyId: keyId,
        ReplicaRegion: OTHER,
        Tags: [{ TagKey: "keyferry:key", TagValue: "payments" }],
      }),
    );
    expect(replica.ReplicaKeyMetadata).toMatchObject({
      KeyId: keyId,
      Arn: `arn:aws:kms:${OTHER}:111122223333:key/${keyId}`,
      KeyState: "PendingImport",
      Origin: "EXTERNAL",
      MultiRegion: true,
    });
    expect(replica.ReplicaTags).toEqual([{ TagKey: "keyferry:key", TagValue: "payments" }]);
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: THIRD }));

    for (const region of [REGION, OTHER, THIRD]) {
      const metadata = await describeIn(region, keyId);
      expect(metadata?.Arn).toBe(`arn:aws:kms:${region}:111122223333:key/${keyId}`);
      expect(metadata?.MultiRegionConfiguration).toEqual({
        MultiRegionKeyType: region === REGION ? "PRIMARY" : "REPLICA",
        PrimaryKey: { Arn: `arn:aws:kms:${REGION}:111122223333:key/${keyId}`, Region: REGION },
        ReplicaKeys: [THIRD, OTHER].map((r) => ({
          Arn: `arn:aws:kms:${r}:111122223333:key/${keyId}`,
          Region: r,
        })),
      });
    }
    // Each region lists only its own key.
    const listed = (await kms(OTHER).send(new ListKeysCommand({}))).Keys ?? [];
    expect(listed.filter((entry) => entry.KeyId === keyId)).toHaveLength(1);
  });

  it("refuses what ReplicateKey refuses", async () => {
    const keyId = await createPrimary();
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER }));
    await expectKmsError(
      kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER })),
      "AlreadyExistsException",
    );
    await expectKmsError(
      kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: REGION })),
      "ValidationException",
    );
    await expectKmsError(
      kms(OTHER).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: THIRD })),
      "UnsupportedOperationException",
    );
    const single = await kms(REGION).send(new CreateKeyCommand({ Origin: "EXTERNAL" }));
    await expectKmsError(
      kms(REGION).send(new ReplicateKeyCommand({ KeyId: single.KeyMetadata?.KeyId, ReplicaRegion: OTHER })),
      "UnsupportedOperationException",
    );
    expect((await describeIn(REGION, single.KeyMetadata?.KeyId ?? ""))?.MultiRegion).toBe(false);
  });

  it("AES: a replica takes only the primary's material, then decrypts what the primary encrypted", async () => {
    const keyId = await createPrimary();
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER }));
    const material = randomBytes(32);
    const imported = await importInto(REGION, keyId, material, "aes256-gcm96");
    await expectKmsError(
      importInto(OTHER, keyId, randomBytes(32), "aes256-gcm96"),
      "IncorrectKeyMaterialException",
    );
    expect((await describeIn(OTHER, keyId))?.KeyState).toBe("PendingImport");
    const replicaImport = await importInto(OTHER, keyId, material, "aes256-gcm96", {
      ImportType: "EXISTING_KEY_MATERIAL",
      KeyMaterialId: imported.KeyMaterialId,
    });
    expect(replicaImport.KeyMaterialId).toBe(imported.KeyMaterialId);
    expect((await describeIn(OTHER, keyId))?.KeyState).toBe("Enabled");

    const plaintext = randomBytes(20);
    const encrypted = await kms(REGION).send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
    const decrypted = await kms(OTHER).send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
    expect(Buffer.from(decrypted.Plaintext ?? new Uint8Array()).equals(plaintext)).toBe(true);
  });

  it("AES rotation: new material into the primary, then into every replica, then RotateKeyOnDemand", async () => {
    const keyId = await createPrimary();
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER }));
    const v1 = randomBytes(32);
    await importInto(REGION, keyId, v1, "aes256-gcm96");
    await importInto(OTHER, keyId, v1, "aes256-gcm96", { ImportType: "EXISTING_KEY_MATERIAL" });
    const v2 = randomBytes(32);
    await expectKmsError(
      importInto(OTHER, keyId, v2, "aes256-gcm96", { ImportType: "NEW_KEY_MATERIAL" }),
      "UnsupportedOperationException",
    );
    const v2Import = await importInto(REGION, keyId, v2, "aes256-gcm96", { ImportType: "NEW_KEY_MATERIAL" });
    await expectKmsError(
      kms(REGION).send(new RotateKeyOnDemandCommand({ KeyId: keyId })),
      "KMSInvalidStateException",
    );
    await importInto(OTHER, keyId, v2, "aes256-gcm96", { ImportType: "EXISTING_KEY_MATERIAL" });
    await expectKmsError(
      kms(OTHER).send(new RotateKeyOnDemandCommand({ KeyId: keyId })),
      "UnsupportedOperationException",
    );
    await kms(REGION).send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    for (const region of [REGION, OTHER]) {
      expect((await describeIn(region, keyId))?.CurrentKeyMaterialId).toBe(v2Import.KeyMaterialId);
    }
  });

  it("ECC: a replica takes only the primary's private key and then has its public key", async () => {
    const keyId = await createPrimary("ECC_NIST_P256");
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER }));
    const ours = await generateKeyMaterial("ecdsa-p256");
    const other = await generateKeyMaterial("ecdsa-p256");
    await importInto(REGION, keyId, ours.material, "ecdsa-p256");
    await expectKmsError(
      importInto(OTHER, keyId, other.material, "ecdsa-p256"),
      "IncorrectKeyMaterialException",
    );
    await importInto(OTHER, keyId, ours.material, "ecdsa-p256");
    for (const region of [REGION, OTHER]) {
      const answer = await kms(region).send(new GetPublicKeyCommand({ KeyId: keyId }));
      expect(
        Buffer.from(answer.PublicKey ?? new Uint8Array()).equals(ours.publicKey ?? Buffer.alloc(0)),
      ).toBe(true);
    }
  });

  it("deletion: a primary with replicas waits in PendingReplicaDeletion until the last replica is deleted", async () => {
    const keyId = await createPrimary();
    await kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: OTHER }));
    const scheduled = await kms(REGION).send(
      new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
    );
    expect(scheduled.KeyState).toBe("PendingReplicaDeletion");
    expect(scheduled.DeletionDate).toBeUndefined();
    await expectKmsError(
      kms(REGION).send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: THIRD })),
      "KMSInvalidStateException",
    );
    // Cancelable like any scheduled deletion.
    await kms(REGION).send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect((await describeIn(REGION, keyId))?.KeyState).toBe("PendingImport");
    await kms(REGION).send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));

    const replica = await kms(OTHER).send(
      new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
    );
    expect(replica.KeyState).toBe("PendingDeletion");
    now += 7 * DAY_MS + 1000;
    // The replica is gone; the primary now starts its own waiting period.
    await expectKmsError(kms(OTHER).send(new DescribeKeyCommand({ KeyId: keyId })), "NotFoundException");
    const primary = await describeIn(REGION, keyId);
    expect(primary?.KeyState).toBe("PendingDeletion");
    expect(primary?.MultiRegionConfiguration?.ReplicaKeys).toEqual([]);
    now += 7 * DAY_MS + 1000;
    await expectKmsError(kms(REGION).send(new DescribeKeyCommand({ KeyId: keyId })), "NotFoundException");
  });
});

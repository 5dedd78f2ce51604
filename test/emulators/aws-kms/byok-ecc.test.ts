import { createHash } from "node:crypto";
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { opensslGenerateMaterial, opensslRsaAesWrap } from "../../helpers/openssl.js";
import { ACCOUNT, expectKmsError, kmsClient, opensslVerifies, REGION } from "./helpers.js";

/**
 * An imported ECC_NIST_P256 signing key proven to work (its signatures verify with openssl), then the key's
 * life around it: aliases, tags, disable and enable, scheduled deletion and its cancellation.
 */

const MESSAGE = Buffer.from("keyferry: every step is in the ledger");

describe("AWS KMS emulator: BYOK of an ECC_NIST_P256 signing key", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;
  let keyId: string;
  let publicKey: Uint8Array;

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator();
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  it("imports openssl-made P-256 material wrapped with RSA_AES_KEY_WRAP_SHA_256", async () => {
    const created = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Origin: "EXTERNAL" }),
    );
    keyId = created.KeyMetadata?.KeyId ?? "";
    expect(created.KeyMetadata?.SigningAlgorithms).toEqual(["ECDSA_SHA_256"]);
    const [parameters, material] = await Promise.all([
      kms.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: "RSA_AES_KEY_WRAP_SHA_256",
          WrappingKeySpec: "RSA_2048",
        }),
      ),
      opensslGenerateMaterial("ecdsa-p256"),
    ]);
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: parameters.ImportToken,
        EncryptedKeyMaterial: await opensslRsaAesWrap(
          parameters.PublicKey ?? new Uint8Array(),
          material,
          "sha256",
        ),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );
    const got = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    publicKey = got.PublicKey ?? new Uint8Array();
    expect(got.SigningAlgorithms).toEqual(["ECDSA_SHA_256"]);
  });

  it("signs raw messages and digests with DER signatures that openssl verifies", async () => {
    const raw = await kms.send(
      new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" }),
    );
    expect(raw.SigningAlgorithm).toBe("ECDSA_SHA_256");
    const rawSignature = raw.Signature ?? new Uint8Array();
    expect(rawSignature[0]).toBe(0x30);
    expect(
      await opensslVerifies({
        publicKeyDer: publicKey,
        message: MESSAGE,
        signature: rawSignature,
        hash: "sha256",
        messageType: "RAW",
      }),
    ).toBe(true);

    const digest = createHash("sha256").update(MESSAGE).digest();
    const signed = await kms.send(
      new SignCommand({
        KeyId: keyId,
        Message: digest,
        MessageType: "DIGEST",
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    const digestSignature = signed.Signature ?? new Uint8Array();
    expect(
      await opensslVerifies({
        publicKeyDer: publicKey,
        message: digest,
        signature: digestSignature,
        hash: "sha256",
        messageType: "DIGEST",
      }),
    ).toBe(true);

    // The message type of Verify need not match Sign's: a digest signature verifies the raw message.
    const verified = await kms.send(
      new VerifyCommand({
        KeyId: keyId,
        Message: MESSAGE,
        Signature: digestSignature,
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    expect(verified.SignatureValid).toBe(true);
    await expectKmsError(
      kms.send(
        new VerifyCommand({
          KeyId: keyId,
          Message: Buffer.from("tampered"),
          Signature: rawSignature,
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      ),
      "KMSInvalidSignatureException",
    );
    await expectKmsError(
      kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: digest.subarray(1),
          MessageType: "DIGEST",
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      ),
      "ValidationException",
    );
    await expectKmsError(
      kms.send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_384" })),
      "InvalidKeyUsageException",
    );
  });

  it("creates, uses, updates and deletes aliases", async () => {
    await kms.send(new CreateAliasCommand({ AliasName: "alias/keyferry/signing", TargetKeyId: keyId }));
    await expectKmsError(
      kms.send(new CreateAliasCommand({ AliasName: "alias/keyferry/signing", TargetKeyId: keyId })),
      "AlreadyExistsException",
    );
    const viaAlias = await kms.send(
      new SignCommand({
        KeyId: "alias/keyferry/signing",
        Message: MESSAGE,
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    expect(viaAlias.KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    const viaAliasArn = await kms.send(
      new DescribeKeyCommand({ KeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/keyferry/signing` }),
    );
    expect(viaAliasArn.KeyMetadata?.KeyId).toBe(keyId);

    const next = await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }));
    const nextId = next.KeyMetadata?.KeyId ?? "";
    await kms.send(new UpdateAliasCommand({ AliasName: "alias/keyferry/signing", TargetKeyId: nextId }));
    const listed = await kms.send(new ListAliasesCommand({ KeyId: nextId }));
    expect(listed.Aliases).toEqual([
      expect.objectContaining({
        AliasName: "alias/keyferry/signing",
        AliasArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/keyferry/signing`,
        TargetKeyId: nextId,
        CreationDate: expect.any(Date),
        LastUpdatedDate: expect.any(Date),
      }),
    ]);
    const encryptionKey = await kms.send(new CreateKeyCommand({}));
    await expectKmsError(
      kms.send(
        new UpdateAliasCommand({
          AliasName: "alias/keyferry/signing",
          TargetKeyId: encryptionKey.KeyMetadata?.KeyId,
        }),
      ),
      "ValidationException",
    );
    await kms.send(new DeleteAliasCommand({ AliasName: "alias/keyferry/signing" }));
    expect((await kms.send(new ListAliasesCommand({}))).Aliases).toEqual([]);
    await expectKmsError(
      kms.send(new DeleteAliasCommand({ AliasName: "alias/keyferry/signing" })),
      "NotFoundException",
    );
    await expectKmsError(
      kms.send(new DescribeKeyCommand({ KeyId: "alias/keyferry/signing" })),
      "NotFoundException",
    );
  });

  it("tags and untags the key", async () => {
    await kms.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: [
          { TagKey: "keyferry:key", TagValue: "signing" },
          { TagKey: "keyferry:version", TagValue: "1" },
        ],
      }),
    );
    await kms.send(
      new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: "keyferry:version", TagValue: "2" }] }),
    );
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([
      { TagKey: "keyferry:key", TagValue: "signing" },
      { TagKey: "keyferry:version", TagValue: "2" },
    ]);
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ["keyferry:version"] }));
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
    expect(tags).toMatchObject({ Tags: [{ TagKey: "keyferry:key", TagValue: "signing" }], Truncated: false });
    await expectKmsError(
      kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: "aws:owner", TagValue: "x" }] })),
      "TagException",
    );
  });

  it("disables and enables the key", async () => {
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({
      KeyState: "Disabled",
      Enabled: false,
    });
    await expectKmsError(
      kms.send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" })),
      "DisabledException",
    );
    await expectKmsError(kms.send(new GetPublicKeyCommand({ KeyId: keyId })), "DisabledException");
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await kms.send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" }));
  });

  it("schedules the deletion (7..30 days) and cancels it: the key comes back disabled", async () => {
    await expectKmsError(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 6 })),
      "ValidationException",
    );
    const before = Date.now();
    const scheduled = await kms.send(
      new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }),
    );
    expect(scheduled).toMatchObject({
      KeyId: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`,
      KeyState: "PendingDeletion",
      PendingWindowInDays: 7,
    });
    const deletionDate = scheduled.DeletionDate?.getTime() ?? 0;
    expect(deletionDate).toBeGreaterThanOrEqual(before + 7 * 86_400_000 - 1000);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(described.KeyMetadata).toMatchObject({
      KeyState: "PendingDeletion",
      DeletionDate: new Date(deletionDate),
    });
    await expectKmsError(
      kms.send(new SignCommand({ KeyId: keyId, Message: MESSAGE, SigningAlgorithm: "ECDSA_SHA_256" })),
      "KMSInvalidStateException",
    );
    await expectKmsError(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId })),
      "KMSInvalidStateException",
    );

    const cancelled = await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect(cancelled.KeyId).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`);
    const after = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(after.KeyMetadata?.KeyState).toBe("Disabled");
    expect(after.KeyMetadata?.DeletionDate).toBeUndefined();
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
  });
});

import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListResourceTagsCommand,
  SignCommand,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import { kmsClient } from "./helpers.js";

/** With a state file the emulator can be stopped and started again without losing keys. */

describe("AWS KMS emulator: state file", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kf-aws-kms-state-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps imported keys, materials, aliases, tags and import tokens across a restart", async () => {
    const stateFile = join(dir, "aws-kms.json");
    const first = await startAwsKmsEmulator({ stateFile });
    const kms = kmsClient(first.url, { maxAttempts: 1 });
    const keyId =
      (
        await kms.send(
          new CreateKeyCommand({ Origin: "EXTERNAL", Tags: [{ TagKey: "keyferry:key", TagValue: "kept" }] }),
        )
      ).KeyMetadata?.KeyId ?? "";
    const parameters = await kms.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: "RSAES_OAEP_SHA_256",
        WrappingKeySpec: "RSA_2048",
      }),
    );
    const wrap = () =>
      wrapForAws({
        material: randomBytes(32),
        keyType: "aes256-gcm96",
        wrappingKey: parameters.PublicKey ?? new Uint8Array(),
        algorithm: "RSAES_OAEP_SHA_256",
      });
    await kms.send(
      new ImportKeyMaterialCommand({
        KeyId: keyId,
        ImportToken: parameters.ImportToken,
        EncryptedKeyMaterial: wrap(),
        ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
      }),
    );
    await kms.send(new CreateAliasCommand({ AliasName: "alias/kept", TargetKeyId: keyId }));
    const ciphertext = (
      await kms.send(new EncryptCommand({ KeyId: "alias/kept", Plaintext: Buffer.from("survives") }))
    ).CiphertextBlob;
    const signingKey = (
      await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }))
    ).KeyMetadata?.KeyId;
    const signature = (
      await kms.send(
        new SignCommand({ KeyId: signingKey, Message: Buffer.from("m"), SigningAlgorithm: "ECDSA_SHA_256" }),
      )
    ).Signature;
    kms.destroy();
    await first.close();

    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
    const saved = await readFile(stateFile, "utf8");
    expect(saved).not.toContain(Buffer.from("survives").toString("base64"));

    const second = await startAwsKmsEmulator({ stateFile });
    const again = kmsClient(second.url, { maxAttempts: 1 });
    try {
      const described = await again.send(new DescribeKeyCommand({ KeyId: "alias/kept" }));
      expect(described.KeyMetadata).toMatchObject({ KeyId: keyId, KeyState: "Enabled", Origin: "EXTERNAL" });
      const decrypted = await again.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
      expect(Buffer.from(decrypted.Plaintext ?? []).toString()).toBe("survives");
      expect((await again.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags).toEqual([
        { TagKey: "keyferry:key", TagValue: "kept" },
      ]);
      const verified = await again.send(
        new VerifyCommand({
          KeyId: signingKey,
          Message: Buffer.from("m"),
          Signature: signature,
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      );
      expect(verified.SignatureValid).toBe(true);
      // The import token issued before the restart still works: new material goes in under it.
      const imported = await again.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrap(),
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
          ImportType: "NEW_KEY_MATERIAL",
        }),
      );
      expect(imported.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      again.destroy();
      await second.close();
    }
  });
});

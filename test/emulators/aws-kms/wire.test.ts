import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeysCommand,
  paginateListKeys,
} from "@aws-sdk/client-kms";
import { describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import { createLogger } from "../../../src/logger.js";
import { expectKmsError, kmsClient } from "./helpers.js";

/** Paging, the account option and the emulator's logging, through the SDK. */

describe("AWS KMS emulator: paging, account and logging", () => {
  it("pages ListKeys with Limit and Marker, as the SDK's paginator expects", async () => {
    const emulator = await startAwsKmsEmulator();
    const kms = kmsClient(emulator.url, { maxAttempts: 1 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? "");
      const first = await kms.send(new ListKeysCommand({ Limit: 2 }));
      expect(first).toMatchObject({ Truncated: true, NextMarker: expect.any(String) });
      expect(first.Keys?.map((key) => key.KeyId)).toEqual(ids.slice(0, 2));
      const paged: string[] = [];
      for await (const page of paginateListKeys({ client: kms, pageSize: 2 }, {})) {
        paged.push(...(page.Keys ?? []).map((key) => key.KeyId ?? ""));
      }
      expect(paged).toEqual(ids);
      await expectKmsError(kms.send(new ListKeysCommand({ Marker: "bogus" })), "InvalidMarkerException");
    } finally {
      kms.destroy();
      await emulator.close();
    }
  });

  it("uses the configured account id in ARNs", async () => {
    const emulator = await startAwsKmsEmulator({ accountId: "999988887777" });
    const kms = kmsClient(emulator.url, { maxAttempts: 1 });
    try {
      const created = await kms.send(new CreateKeyCommand({}));
      expect(created.KeyMetadata?.AWSAccountId).toBe("999988887777");
      expect(created.KeyMetadata?.Arn).toMatch(/^arn:aws:kms:eu-west-1:999988887777:key\//);
    } finally {
      kms.destroy();
      await emulator.close();
    }
  });

  it("logs operation names and key ids at debug level, never tokens, material or data", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const emulator = await startAwsKmsEmulator({ logger: createLogger({ level: "debug" }, sink) });
    const kms = kmsClient(emulator.url, { maxAttempts: 1 });
    try {
      const keyId = (await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL" }))).KeyMetadata?.KeyId ?? "";
      const parameters = await kms.send(
        new GetParametersForImportCommand({
          KeyId: keyId,
          WrappingAlgorithm: "RSAES_OAEP_SHA_256",
          WrappingKeySpec: "RSA_2048",
        }),
      );
      const material = randomBytes(32);
      const wrapped = wrapForAws({
        material,
        keyType: "aes256-gcm96",
        wrappingKey: parameters.PublicKey ?? new Uint8Array(),
        algorithm: "RSAES_OAEP_SHA_256",
      });
      await kms.send(
        new ImportKeyMaterialCommand({
          KeyId: keyId,
          ImportToken: parameters.ImportToken,
          EncryptedKeyMaterial: wrapped,
          ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
      );
      const plaintext = Buffer.from("a secret of the caller");
      const ciphertext = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext })))
        .CiphertextBlob;
      await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }));
      await expectKmsError(
        kms.send(new DecryptCommand({ CiphertextBlob: randomBytes(80) })),
        "InvalidCiphertextException",
      );

      const log = lines.join("");
      expect(log).toContain('"op":"ImportKeyMaterial"');
      expect(log).toContain(`"keyId":"${keyId}"`);
      expect(log).toContain('"error":"InvalidCiphertextException"');
      for (const secret of [material, wrapped, plaintext, Buffer.from(parameters.ImportToken ?? [])]) {
        expect(log).not.toContain(secret.toString("base64"));
        expect(log).not.toContain(secret.toString("hex"));
      }
      expect(log).not.toContain(Buffer.from(ciphertext ?? []).toString("base64"));
    } finally {
      kms.destroy();
      await emulator.close();
    }
  });
});

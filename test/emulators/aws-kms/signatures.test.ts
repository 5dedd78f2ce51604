import { createHash } from "node:crypto";
import {
  CreateKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
  type SigningAlgorithmSpec,
  VerifyCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { kmsClient, opensslVerifies } from "./helpers.js";

/**
 * Signatures of every scheme the emulator implements, for RAW messages and for digests, checked by openssl
 * on keys the emulator generates. DIGEST signing bypasses Node's hashing signer (common/rsa-digest.ts,
 * common/ecdsa-digest.ts), so this is what proves those encodings right.
 */

const MESSAGE = Buffer.from("keyferry: every step is in the ledger");

describe("AWS KMS emulator: signatures of every scheme verify with openssl", () => {
  let emulator: RunningEmulator;
  let kms: KMSClient;

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator();
    kms = kmsClient(emulator.url, { maxAttempts: 1 });
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.close();
  });

  const cases: Array<{
    keySpec: "RSA_2048" | "ECC_NIST_P384" | "ECC_NIST_P521";
    algorithm: SigningAlgorithmSpec;
    hash: "sha256" | "sha384" | "sha512";
    rsaPadding?: "pss" | "pkcs1";
  }> = [
    { keySpec: "RSA_2048", algorithm: "RSASSA_PSS_SHA_256", hash: "sha256", rsaPadding: "pss" },
    { keySpec: "RSA_2048", algorithm: "RSASSA_PKCS1_V1_5_SHA_384", hash: "sha384", rsaPadding: "pkcs1" },
    { keySpec: "ECC_NIST_P384", algorithm: "ECDSA_SHA_384", hash: "sha384" },
    { keySpec: "ECC_NIST_P521", algorithm: "ECDSA_SHA_512", hash: "sha512" },
  ];

  it.each(cases)(
    "$algorithm with a $keySpec key, RAW and DIGEST",
    async ({ keySpec, algorithm, hash, rsaPadding }) => {
      const created = await kms.send(new CreateKeyCommand({ KeySpec: keySpec, KeyUsage: "SIGN_VERIFY" }));
      const keyId = created.KeyMetadata?.KeyId ?? "";
      const publicKeyDer =
        (await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey ?? new Uint8Array();
      const digest = createHash(hash).update(MESSAGE).digest();
      for (const [messageType, message] of [
        ["RAW", MESSAGE],
        ["DIGEST", digest],
      ] as const) {
        const signed = await kms.send(
          new SignCommand({
            KeyId: keyId,
            Message: message,
            MessageType: messageType,
            SigningAlgorithm: algorithm,
          }),
        );
        const signature = signed.Signature ?? new Uint8Array();
        expect(
          await opensslVerifies({
            publicKeyDer,
            message,
            signature,
            hash,
            messageType,
            ...(rsaPadding ? { rsaPadding } : {}),
          }),
          `${messageType} signature verifies with openssl`,
        ).toBe(true);
        const verified = await kms.send(
          new VerifyCommand({
            KeyId: keyId,
            Message: digest,
            MessageType: "DIGEST",
            Signature: signature,
            SigningAlgorithm: algorithm,
          }),
        );
        expect(verified.SignatureValid).toBe(true);
      }
    },
  );
});

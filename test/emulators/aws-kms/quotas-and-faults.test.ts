import { randomBytes, randomUUID } from "node:crypto";
import {
  CreateKeyCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type KMSClient,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapForAws } from "../../../src/crypto/wrap-aws.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { parseQuotaMode } from "../../../src/emulators/common/quota.js";
import { expectKmsError, kmsClient } from "./helpers.js";

/** The published request quotas (`--quota real`) and every fault mode, seen through the SDK. */

describe("AWS KMS emulator: request quotas at --quota real", () => {
  let emulator: RunningEmulator;
  let strict: KMSClient;
  let patient: KMSClient;

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator({ quota: parseQuotaMode("real") });
    strict = kmsClient(emulator.url, { maxAttempts: 1 });
    patient = kmsClient(emulator.url);
  });
  afterAll(async () => {
    strict.destroy();
    patient.destroy();
    await emulator.close();
  });

  it("throttles GetParametersForImport beyond 1 per second; the SDK's default retries get through", async () => {
    const keyId = (await strict.send(new CreateKeyCommand({ Origin: "EXTERNAL" }))).KeyMetadata?.KeyId;
    const request = new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: "RSAES_OAEP_SHA_256",
      WrappingKeySpec: "RSA_2048",
    });
    // Concurrent requests meet the bucket together (capacity 1): however slow the wrapping key generation
    // is, exactly one gets through and the other is throttled.
    const [first, second] = await Promise.allSettled([strict.send(request), strict.send(request)]);
    const outcomes = [first, second].map((result) =>
      result.status === "fulfilled" ? "ok" : result.reason.name,
    );
    expect(outcomes.sort()).toEqual(["ThrottlingException", "ok"]);
    const refused = [first, second].find((result) => result.status === "rejected");
    expect((refused as PromiseRejectedResult).reason.message).toMatch(/exceeded the rate/);

    const answers = await Promise.all([patient.send(request), patient.send(request)]);
    for (const answer of answers) expect(answer.ImportToken?.length).toBeGreaterThan(0);
    const attempts = answers.map((answer) => answer.$metadata.attempts ?? 1);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    expect(emulator.quota.throttled.get("GetParametersForImport")).toBeGreaterThanOrEqual(2);
  });

  it("counts cryptographic operations against the shared bucket of the key's type", async () => {
    const keyId = (await strict.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const before = emulator.quota.allowed.get("CryptographicOperationsSymmetric") ?? 0;
    await strict.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") }));
    expect(emulator.quota.allowed.get("CryptographicOperationsSymmetric")).toBe(before + 1);
  });
});

describe("AWS KMS emulator: fault injection", () => {
  let emulator: RunningEmulator;
  let strict: KMSClient;
  let patient: KMSClient;

  beforeAll(async () => {
    emulator = await startAwsKmsEmulator();
    strict = kmsClient(emulator.url, { maxAttempts: 1 });
    patient = kmsClient(emulator.url);
  });
  afterAll(async () => {
    strict.destroy();
    patient.destroy();
    await emulator.close();
  });

  /** The keys carrying `operation` in their keyferry:operation tag, as a retried step would look them up. */
  const keysTagged = async (operation: string) => {
    const found: string[] = [];
    for (const key of (await strict.send(new ListKeysCommand({}))).Keys ?? []) {
      const tags = (await strict.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags ?? [];
      if (tags.some((tag) => tag.TagKey === "keyferry:operation" && tag.TagValue === operation)) {
        found.push(key.KeyId ?? "");
      }
    }
    return found;
  };

  it.each(["drop", "error"] as const)(
    "CreateKey failing after commit (%s): the call fails, the key exists",
    async (mode) => {
      const operation = randomUUID();
      emulator.faults.failAfterCommitNext(1, { operation: "CreateKey", mode });
      const failed = strict.send(
        new CreateKeyCommand({ Tags: [{ TagKey: "keyferry:operation", TagValue: operation }] }),
      );
      if (mode === "error") {
        const error = await expectKmsError(failed, "KMSInternalException");
        expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
      } else {
        await expect(failed).rejects.toThrow();
      }
      const created = await keysTagged(operation);
      expect(created).toHaveLength(1);
      const described = await strict.send(new DescribeKeyCommand({ KeyId: created[0] }));
      expect(described.KeyMetadata?.KeyState).toBe("Enabled");
    },
  );

  it("ImportKeyMaterial failing after commit: the material is in, and repeating the import is harmless", async () => {
    const keyId = (await strict.send(new CreateKeyCommand({ Origin: "EXTERNAL" }))).KeyMetadata?.KeyId;
    const parameters = await strict.send(
      new GetParametersForImportCommand({
        KeyId: keyId,
        WrappingAlgorithm: "RSAES_OAEP_SHA_256",
        WrappingKeySpec: "RSA_2048",
      }),
    );
    const request = new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: parameters.ImportToken,
      EncryptedKeyMaterial: wrapForAws({
        material: randomBytes(32),
        keyType: "aes256-gcm96",
        wrappingKey: parameters.PublicKey ?? new Uint8Array(),
        algorithm: "RSAES_OAEP_SHA_256",
      }),
      ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    emulator.faults.failAfterCommitNext(1, { operation: "ImportKeyMaterial", mode: "error" });
    await expectKmsError(strict.send(request), "KMSInternalException");
    expect((await strict.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe(
      "Enabled",
    );

    // A dropped answer: the SDK retries by itself, and the retry re-imports the same material.
    emulator.faults.failAfterCommitNext(1, { operation: "ImportKeyMaterial", mode: "drop" });
    const retried = await patient.send(request);
    expect(retried.$metadata.attempts).toBe(2);
    const rotations = await strict.send(
      new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(rotations.Rotations).toHaveLength(1);
    expect(rotations.Rotations?.[0]?.KeyMaterialId).toBe(retried.KeyMaterialId);
  });

  it("transient errors and throttles before the operation change nothing; the SDK retries them", async () => {
    const operation = randomUUID();
    const create = new CreateKeyCommand({ Tags: [{ TagKey: "keyferry:operation", TagValue: operation }] });
    emulator.faults.errorNext(1, { operation: "CreateKey" });
    await expectKmsError(strict.send(create), "KMSInternalException");
    emulator.faults.throttleNext(1, { operation: "CreateKey", retryAfterMs: 50 });
    await expectKmsError(strict.send(create), "ThrottlingException");
    expect(await keysTagged(operation)).toEqual([]);

    emulator.faults.errorNext(1, { operation: "CreateKey" });
    emulator.faults.throttleNext(1, { operation: "CreateKey", retryAfterMs: 50 });
    const created = await patient.send(create);
    expect(created.$metadata.attempts).toBe(3);
    expect(await keysTagged(operation)).toEqual([created.KeyMetadata?.KeyId]);
  });

  it("applies configured error rates to the listed operations only", async () => {
    const keyId = (await strict.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    emulator.faults.configure({ errorRate: 1, operations: ["DescribeKey"] });
    try {
      await expectKmsError(strict.send(new DescribeKeyCommand({ KeyId: keyId })), "KMSInternalException");
      await strict.send(new ListKeysCommand({}));
    } finally {
      emulator.faults.reset();
    }
    await strict.send(new DescribeKeyCommand({ KeyId: keyId }));
  });
});

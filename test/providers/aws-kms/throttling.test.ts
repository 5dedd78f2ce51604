import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/logger.js";
import { createAwsKmsProvider } from "../../../src/providers/aws-kms/index.js";
import { type Harness, liveKeysByVersion, makeKey, providerFailure, startHarness } from "./helpers.js";

/**
 * Throttling is classified and waited out: at the published quotas (GetParametersForImport: 1 per second)
 * and when the emulator throttles on purpose, the provider waits the delay asked for and carries on; a
 * delay longer than it may hold a worker for goes back to the caller with the delay attached.
 */

describe("AWS KMS provider: throttling at the published quotas", () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ quota: { kind: "scaled", scale: 1 } });
  });
  afterAll(async () => {
    await harness.close();
  });

  const throttleWarnings = () =>
    harness.logs.filter((line) => line.msg === "aws-kms call will be retried" && line.kind === "throttled");

  it("waits out GetParametersForImport's quota of one per second", async () => {
    const { key, versions } = await makeKey("aes256-gcm96", ["encrypt"], 3);
    const copy = await harness.provider.distribute(harness.context(), harness.destination, key, versions);
    expect(copy.versions).toHaveLength(3);
    expect(harness.emulator.quota.throttled.get("GetParametersForImport")).toBeGreaterThanOrEqual(1);
    expect(throttleWarnings().some((line) => line.op === "GetParametersForImport")).toBe(true);
    // The emulator names its delay (x-amz-retry-after), and that is what was waited.
    expect(harness.sleeps.some((ms) => ms > 100)).toBe(true);
  });

  it("retries a throttled CreateKey in place: a throttled request was never carried out", async () => {
    const { key, versions } = await makeKey("ecdsa-p256", ["sign"], 1);
    harness.emulator.faults.throttleNext(2, { operation: "CreateKey", retryAfterMs: 40 });
    const copy = await harness.provider.distribute(harness.context(), harness.destination, key, versions);
    expect(copy.versions).toHaveLength(1);
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1 });
    expect(throttleWarnings().filter((line) => line.op === "CreateKey")).toHaveLength(2);
    expect(harness.sleeps).toContain(40);
  });

  it("hands a throttle back, classified and with its delay, when retries run out or the delay is too long", async () => {
    const logger = createLogger({ level: "silent" });
    const impatient = createAwsKmsProvider({ logger, wrappingKeySpec: "RSA_2048", retry: { attempts: 1 } });
    const { key, versions } = await makeKey("ecdsa-p256", ["sign"], 1);
    try {
      harness.emulator.faults.throttleNext(1, { operation: "CreateKey", retryAfterMs: 70 });
      const failure = await providerFailure(
        impatient.distribute(harness.context(), harness.destination, key, versions),
      );
      expect(failure).toMatchObject({
        kind: "throttled",
        remoteCode: "ThrottlingException",
        retryAfterMs: 70,
        retryable: true,
      });

      harness.emulator.faults.throttleNext(1, { operation: "CreateKey", retryAfterMs: 60_000 });
      const tooLong = await providerFailure(
        harness.provider.distribute(harness.context(), harness.destination, key, versions),
      );
      expect(tooLong).toMatchObject({ kind: "throttled", retryAfterMs: 60_000 });
      expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({});
    } finally {
      impatient.close();
    }
  });

  it("retries transient failures of idempotent calls", async () => {
    const { key, versions } = await makeKey("ecdsa-p256", ["sign"], 1);
    const copy = await harness.provider.distribute(harness.context(), harness.destination, key, versions);
    harness.emulator.faults.errorNext(2, { operation: "DescribeKey" });
    const state = await harness.provider.describe(harness.context(), harness.destination, key, copy);
    expect(state.versions[0]?.state).toBe("enabled");
    const transient = harness.logs.filter((line) => line.op === "DescribeKey" && line.kind === "transient");
    expect(transient.length).toBeGreaterThanOrEqual(2);
  });
});

import { generateKeyPairSync } from "node:crypto";
import type { ImportKeyOptions, JsonWebKey } from "@azure/keyvault-keys";
import { afterEach, describe, expect, it } from "vitest";
import { startAzureKeyVaultEmulator } from "../../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { expectKeyVaultError, keyClient, LOCAL_VAULT_OPTIONS, NO_RETRIES } from "./helpers.js";

/**
 * The published quotas (429 with Retry-After, which the SDK honours) and every injected fault: throttling,
 * transient errors, and "fail after commit", where the change is made and the answer is lost.
 */

/** An EC P-256 key in JWK private parts, for imports that cost no key generation in the vault. */
function ecJwk(): JsonWebKey {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const bytes = (value: string | undefined) => Buffer.from(value ?? "", "base64url");
  return { kty: "EC", crv: "P-256", x: bytes(jwk.x), y: bytes(jwk.y), d: bytes(jwk.d) };
}

const HSM: ImportKeyOptions = { hardwareProtected: true };

describe("Azure Key Vault emulator: quotas and injected faults", () => {
  let emulator: RunningEmulator | undefined;

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it("throttles HSM key creation beyond 10 per 10 s; import counts as create; the SDK's retry gets through", async () => {
    // Time stands still, so the burst of 10 runs out however slow the machine is. It moves on by one
    // Retry-After (1 s) only once the vault has throttled the patient client below, so that client's own
    // retry is what gets through: no race between the test's clock and the SDK's wait.
    const start = Date.now();
    let throttledBeforeRetry = Number.POSITIVE_INFINITY;
    const now = () =>
      start + ((emulator?.quota.throttled.get("hsm-create") ?? 0) > throttledBeforeRetry ? 1000 : 0);
    emulator = await startAzureKeyVaultEmulator({ quota: { kind: "scaled", scale: 1 }, now });
    const strict = keyClient(emulator.url, NO_RETRIES);
    for (let i = 0; i < 10; i++) await strict.createEcKey(`hsm-${i}`, { hsm: true });

    const error = await expectKeyVaultError(strict.createEcKey("hsm-10", { hsm: true }), {
      status: 429,
      code: "Throttled",
    });
    // One token per second refills a bucket of 10 per 10 s.
    expect(error.response?.headers.get("retry-after")).toBe("1");
    await expectKeyVaultError(strict.importKey("hsm-imported", ecJwk(), HSM), {
      status: 429,
      code: "Throttled",
    });
    // Software keys have their own CREATE budget (20 per 10 s), and reads are not creates.
    await strict.createEcKey("software");
    await strict.getKey("hsm-0");
    expect(emulator.quota.throttled.get("hsm-create")).toBe(2);

    throttledBeforeRetry = 2;
    const patient = keyClient(emulator.url, LOCAL_VAULT_OPTIONS);
    const created = await patient.createEcKey("hsm-patient", { hsm: true });
    expect(created.keyType).toBe("EC-HSM");
    expect(emulator.quota.throttled.get("hsm-create")).toBe(3);
  });

  it("injects throttling and transient errors before anything happens", async () => {
    emulator = await startAzureKeyVaultEmulator();
    const strict = keyClient(emulator.url, NO_RETRIES);
    await strict.createEcKey("target");

    emulator.faults.throttleNext(1, { operation: "getKey", retryAfterMs: 2500 });
    const throttled = await expectKeyVaultError(strict.getKey("target"), { status: 429, code: "Throttled" });
    expect(throttled.response?.headers.get("retry-after")).toBe("3");
    emulator.faults.errorNext(1, { operation: "createKey" });
    await expectKeyVaultError(strict.createEcKey("never"), { status: 503, code: "ServiceUnavailable" });
    await expectKeyVaultError(strict.getKey("never"), { status: 404, code: "KeyNotFound" });

    // The SDK retries both on its own: Retry-After for the 429, its exponential backoff for the 503.
    const patient = keyClient(emulator.url, { ...LOCAL_VAULT_OPTIONS, retryOptions: { retryDelayInMs: 20 } });
    emulator.faults.throttleNext(1, { operation: "getKey", retryAfterMs: 100 });
    emulator.faults.errorNext(1, { operation: "getKey" });
    expect((await patient.getKey("target")).name).toBe("target");
    expect(emulator.faults.injected).toMatchObject({ throttle: 2, error: 2 });
  });

  it("fails importKey after commit, with a dropped connection or a 500: the new version exists anyway", async () => {
    emulator = await startAzureKeyVaultEmulator();
    const strict = keyClient(emulator.url, NO_RETRIES);
    const versions = async () => {
      const found: string[] = [];
      for await (const properties of strict.listPropertiesOfKeyVersions("committed"))
        found.push(properties.version ?? "");
      return found;
    };

    emulator.faults.failAfterCommitNext(1, { operation: "importKey", mode: "drop" });
    const dropped = await strict.importKey("committed", ecJwk(), HSM).then(
      () => undefined,
      (error: unknown) => error as { statusCode?: number },
    );
    expect(dropped).toBeDefined();
    expect(dropped?.statusCode).toBeUndefined();
    expect(await versions()).toHaveLength(1);

    emulator.faults.failAfterCommitNext(1, { operation: "importKey", mode: "error" });
    await expectKeyVaultError(strict.importKey("committed", ecJwk(), HSM), {
      status: 500,
      code: "InternalServerError",
    });
    expect(await versions()).toHaveLength(2);

    // With its retries on, the SDK repeats the PUT and succeeds: two versions for one call. This is why
    // keyferry tags what it imports and looks for an earlier attempt's version before importing again.
    const patient = keyClient(emulator.url, { ...LOCAL_VAULT_OPTIONS, retryOptions: { retryDelayInMs: 20 } });
    emulator.faults.failAfterCommitNext(1, { operation: "importKey", mode: "error" });
    await patient.importKey("committed", ecJwk(), HSM);
    expect(await versions()).toHaveLength(4);
    expect(emulator.faults.injected.afterCommit).toBe(3);
  });

  it("applies a configured fail-after-commit rate to changes only", async () => {
    emulator = await startAzureKeyVaultEmulator({
      faults: { failAfterCommitRate: 1, failAfterCommitMode: "drop" },
    });
    const strict = keyClient(emulator.url, NO_RETRIES);
    await expect(strict.createEcKey("made-anyway")).rejects.toThrow();
    emulator.faults.reset();
    expect((await strict.getKey("made-anyway")).keyType).toBe("EC");
  });
});

import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KeyToDistribute } from "../../../src/providers/kms-provider.js";
import { ProviderError } from "../../../src/providers/provider-error.js";
import { type Harness, makeVersions, rejection, startHarness, versionsOf } from "./helpers.js";

/**
 * Throttling (429 + Retry-After) is classified and waited out with the delay the vault asked for; transient
 * failures back off; neither counts as a failure while attempts remain. The sleep is injected and moves the
 * emulator's clock, so nothing here waits in real time and nothing asserts timings.
 */

type Versions = Awaited<ReturnType<typeof makeVersions>>;
const key = (name: string): KeyToDistribute => ({
  name,
  type: "ecdsa-p256",
  purposes: ["sign"],
  protection: "hsm",
});

describe("Azure Key Vault provider: throttling and transient failures", () => {
  let versions: Versions;
  let h: Harness | undefined;

  beforeAll(async () => {
    versions = await makeVersions("ecdsa-p256", 12);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("waits the Retry-After the vault asked for, then goes on", async () => {
    h = await startHarness();
    h.emulator.faults.throttleNext(2, { operation: "importKey", retryAfterMs: 3000 });
    const copy = await h.provider.distribute(h.context(), h.destination, key("asked"), versions.slice(0, 2));
    expect(h.sleeps).toEqual([3000, 3000]);
    expect(copy.versions).toHaveLength(2);
    expect(await versionsOf(h.vault, "asked")).toHaveLength(2);
  });

  it("keeps to the vault's real quota: 13 HSM creates against 10 per 10 s", async () => {
    h = await startHarness({ emulator: { quota: { kind: "scaled", scale: 1 } } });
    const ctx = h.context();
    const copy = await h.provider.distribute(ctx, h.destination, key("quota"), versions);
    expect(copy.versions.map((v) => v.version)).toEqual(versions.map((v) => v.version));
    expect(await versionsOf(h.vault, "quota")).toHaveLength(12);
    expect(h.emulator.quota.throttled.get("hsm-create")).toBeGreaterThan(0);
    // Every wait is a whole-second Retry-After, not a backoff of keyferry's own choosing.
    expect(h.sleeps.length).toBe(h.emulator.quota.throttled.get("hsm-create"));
    expect(h.sleeps.every((ms) => ms >= 1000 && ms % 1000 === 0)).toBe(true);
  });

  it("hands a Retry-After longer than it may wait back to the scheduler, as throttled", async () => {
    h = await startHarness();
    const copy = await h.provider.distribute(h.context(), h.destination, key("long"), versions.slice(0, 1));
    h.emulator.faults.throttleNext(1, { operation: "listPropertiesOfKeyVersions", retryAfterMs: 60_000 });
    const error = await rejection(h.provider.describe(h.context(), h.destination, key("long"), copy));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "throttled", retryAfterMs: 60_000, retryable: true });
    expect(h.sleeps).toEqual([]);
  });

  it("gives up after its attempts, still classified as throttled", async () => {
    h = await startHarness({ attempts: 3 });
    const copy = await h.provider.distribute(h.context(), h.destination, key("many"), versions.slice(0, 1));
    h.emulator.faults.throttleNext(5, { operation: "getKey", retryAfterMs: 1000 });
    const error = await rejection(
      h.provider.verify(h.context(), h.destination, key("many"), copy, versions.slice(0, 1)),
    );
    expect(error).toMatchObject({ kind: "throttled", retryAfterMs: 1000 });
    expect(h.sleeps).toEqual([1000, 1000]);
  });

  it("retries a transient failure of a read in place, but not of an import", async () => {
    h = await startHarness();
    const ctx = h.context();
    h.emulator.faults.errorNext(1, { operation: "importKey" });
    const failed = await rejection(
      h.provider.distribute(ctx, h.destination, key("transient"), versions.slice(0, 2)),
    );
    expect(failed).toMatchObject({ kind: "transient", remoteCode: "ServiceUnavailable" });
    const copy = await h.provider.distribute(ctx, h.destination, key("transient"), versions.slice(0, 2));
    expect(await versionsOf(h.vault, "transient")).toHaveLength(2);

    h.emulator.faults.errorNext(2, { operation: "getKey" });
    const report = await h.provider.verify(
      h.context(),
      h.destination,
      key("transient"),
      copy,
      versions.slice(0, 2),
    );
    expect(report.ok).toBe(true);
    // Two backoff waits of keyferry's own choosing (full jitter: below the cap), no Retry-After involved.
    expect(h.sleeps).toHaveLength(2);
    expect(h.sleeps.every((ms) => ms >= 0 && ms < 15_000)).toBe(true);
  });
});

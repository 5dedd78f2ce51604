import { describe, expect, it } from "vitest";
import { ProviderError, type ProviderErrorKind } from "../../../src/providers/provider-error.js";
import {
  abortableSleep,
  backoffDelay,
  RETRY_THROTTLED,
  type RetryOptions,
  withRetry,
} from "../../../src/providers/retry.js";

/** src/providers/retry.ts (shared with the Azure provider), tested here with the provider that uses it first. */

const failure = (kind: ProviderErrorKind, retryAfterMs?: number) =>
  new ProviderError(kind, `Remote${kind}`, kind, retryAfterMs === undefined ? {} : { retryAfterMs });

/** A call failing with `errors` in turn, then answering "ok"; and the waits it was given. */
function scripted(errors: ProviderError[], options: Partial<RetryOptions> = {}) {
  const sleeps: number[] = [];
  let calls = 0;
  const run = withRetry(
    async () => {
      const error = errors[calls++];
      if (error) throw error;
      return "ok";
    },
    (error) => error as ProviderError,
    {
      attempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...options,
    },
  );
  return { run, sleeps, calls: () => calls };
}

describe("withRetry", () => {
  it("retries throttled and transient failures, waiting the asked-for delay or a jittered backoff", async () => {
    const { run, sleeps, calls } = scripted([
      failure("throttled", 300),
      failure("transient"),
      failure("throttled"),
    ]);
    await expect(run).resolves.toBe("ok");
    expect(calls()).toBe(4);
    // 300 as asked; then full jitter at 0.5 of min(1000, 100·2^(n-1)) for attempts 2 and 3.
    expect(sleeps).toEqual([300, 100, 200]);
  });

  it("throws permanent failures at once, and the last failure when attempts run out", async () => {
    const permanent = scripted([failure("permanent")]);
    await expect(permanent.run).rejects.toMatchObject({ kind: "permanent" });
    expect(permanent.calls()).toBe(1);
    const exhausted = scripted([failure("transient"), failure("transient"), failure("transient")], {
      attempts: 3,
    });
    await expect(exhausted.run).rejects.toMatchObject({ kind: "transient" });
    expect(exhausted.calls()).toBe(3);
  });

  it("retries only the kinds asked for: a call that is not idempotent retries throttling only", async () => {
    const transient = scripted([failure("transient")], { retryOn: RETRY_THROTTLED });
    await expect(transient.run).rejects.toMatchObject({ kind: "transient" });
    const throttled = scripted([failure("throttled", 10)], { retryOn: RETRY_THROTTLED });
    await expect(throttled.run).resolves.toBe("ok");
  });

  it("hands back a throttle whose delay is longer than it may wait, with the delay", async () => {
    const { run, sleeps } = scripted([failure("throttled", 5_000)]);
    await expect(run).rejects.toMatchObject({ kind: "throttled", retryAfterMs: 5_000 });
    expect(sleeps).toEqual([]);
  });

  it("stops when the signal aborts, during the wait too", async () => {
    const controller = new AbortController();
    controller.abort();
    const aborted = scripted([failure("transient")], { signal: controller.signal });
    await expect(aborted.run).rejects.toMatchObject({ kind: "transient" });
    expect(aborted.calls()).toBe(1);

    const later = new AbortController();
    const waiting = withRetry(
      async () => {
        throw failure("transient");
      },
      (error) => error as ProviderError,
      { attempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99, signal: later.signal },
    );
    setTimeout(() => later.abort(), 20);
    await expect(waiting).rejects.toMatchObject({ kind: "transient" });
  });

  it("draws full-jitter delays within [0, min(cap, base·2^(n-1)))", () => {
    expect(backoffDelay(1, 100, 1_000, () => 0.999)).toBe(99);
    expect(backoffDelay(4, 100, 1_000, () => 0.999)).toBe(799);
    expect(backoffDelay(10, 100, 1_000, () => 0.999)).toBe(999);
    expect(backoffDelay(3, 100, 1_000, () => 0)).toBe(0);
  });

  it("sleeps, and rejects at once on an aborted signal", async () => {
    await expect(abortableSleep(1)).resolves.toBeUndefined();
    const controller = new AbortController();
    const sleeping = abortableSleep(60_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(sleeping).rejects.toThrow("stop");
  });
});

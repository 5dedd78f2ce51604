import { describe, expect, it } from "vitest";
import { quotaScopeOf } from "../../src/operations/destinations.js";
import type { DestinationRef } from "../../src/operations/engine.js";
import { createDestinationLimits } from "../../src/queue/limits.js";
import { useTestRedis } from "../helpers/redis.js";

const testRedis = useTestRedis();
const worker = { kmsConcurrency: 2, rateLimitScale: 1 };

const aws = (name: string, options: DestinationRef["options"] = {}): DestinationRef => ({
  name,
  provider: "awskms",
  options,
});
const azure = (name: string): DestinationRef => ({ name, provider: "azurekeyvault", options: {} });

/** Count tokens granted when asking every `stepMs` of simulated time for `seconds` seconds. */
async function granted(take: () => Promise<number>, clock: { now: number }, seconds: number, stepMs = 50) {
  let count = 0;
  const end = clock.now + seconds * 1000;
  while (clock.now < end) {
    while ((await take()) === 0) count += 1;
    clock.now += stepMs;
  }
  return count;
}

describe("destination limits", () => {
  it("grants no more than the published quota, scaled, over a window", async () => {
    const { redis, prefix } = testRedis();
    const clock = { now: 1_000_000 };
    const limits = createDestinationLimits(redis, prefix, { worker, clock: () => clock.now });
    // AWS CreateKey: 5 per second (burst 5), less the 3% headroom: at most 4.85 + 4.85 * 10 over 10 s.
    const createKey = await granted(() => limits.tryTake(aws("aws-a"), "CreateKey"), clock, 10);
    expect(createKey).toBeLessThanOrEqual(53);
    expect(createKey).toBeGreaterThanOrEqual(50);
    // Azure HSM create/import share 10 per 10 s (less the headroom: 9.7 + 19.4 over 20 s).
    const importKey = await granted(() => limits.tryTake(azure("vault-a"), "importKey"), clock, 20);
    expect(importKey).toBeLessThanOrEqual(29);
    expect(importKey).toBeGreaterThanOrEqual(28);
    // createKey draws on the same bucket as importKey.
    while ((await limits.tryTake(azure("vault-a"), "importKey")) === 0) {}
    expect(await limits.tryTake(azure("vault-a"), "createKey")).toBeGreaterThan(0);

    const half = createDestinationLimits(redis, prefix, {
      worker: { ...worker, rateLimitScale: 0.5 },
      clock: () => clock.now,
    });
    const slow = await granted(() => half.tryTake(aws("aws-b"), "GetParametersForImport"), clock, 10);
    expect(slow).toBeLessThanOrEqual(1 + 5);

    const overridden = await granted(
      () => limits.tryTake(aws("aws-c", { rateLimitPerSecond: 2 }), "DescribeKey"),
      clock,
      10,
    );
    expect(overridden).toBeLessThanOrEqual(2 + 20);
  });

  it("lets one destination go while another waits for its bucket", async () => {
    const { redis, prefix } = testRedis();
    // Long waits in place here (maxWaitMs), to see that one destination's waiter blocks no other.
    const limits = createDestinationLimits(redis, prefix, { worker, maxWaitMs: 600_000 });
    const throttled = aws("aws-throttled", { rateLimitPerSecond: 0.01 });
    await limits.acquire(throttled, "CreateKey");
    const controller = new AbortController();
    const waiting = limits.acquire(throttled, "CreateKey", controller.signal);
    const started = Date.now();
    await limits.acquire(aws("aws-free"), "CreateKey");
    await limits.withSlot(aws("aws-free"), async () => {});
    expect(Date.now() - started).toBeLessThan(1000);
    controller.abort(new Error("test over"));
    await expect(waiting).rejects.toThrow("test over");
  });

  it("caps concurrency across limiter instances, and frees the slot of a holder that vanished", async () => {
    const { redis, prefix } = testRedis();
    const clock = { now: 5_000_000 };
    const opts = {
      worker: { ...worker, kmsConcurrency: 1 },
      clock: () => clock.now,
      leaseMs: 3000,
      slotPollMs: 10,
    };
    const hostA = createDestinationLimits(redis, prefix, opts);
    const hostB = createDestinationLimits(redis, prefix, opts);
    const kms = aws("aws-sem", { concurrency: 2 });

    let inFlight = 0;
    let peak = 0;
    const work = async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight -= 1;
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? hostA : hostB).withSlot(kms, work)));
    expect(peak).toBe(2);

    // Host A takes both slots and dies (its leases are not renewed, never released).
    void hostA.withSlot(kms, () => new Promise(() => {}));
    void hostA.withSlot(kms, () => new Promise(() => {}));
    await new Promise((r) => setTimeout(r, 50));
    hostA.stop();
    let ran = false;
    const waiting = hostB.withSlot(kms, async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(ran).toBe(false);
    clock.now += 3001;
    await waiting;
    expect(ran).toBe(true);
    hostB.stop();
  });

  it("gives the next token to a waiting interactive caller before bulk callers, and keeps a slot for it", async () => {
    const { redis, prefix } = testRedis();
    const clock = { now: 7_000_000 };
    const limits = createDestinationLimits(redis, prefix, { worker, clock: () => clock.now });
    const kms = aws("aws-shared", { rateLimitPerSecond: 1, concurrency: 3 });
    expect(await limits.tryTake(kms, "CreateKey", "bulk")).toBe(0);
    // The bucket is empty: an interactive caller is told to wait, and is registered as waiting.
    const wait = await limits.tryTake(kms, "CreateKey", "interactive", "urgent-1");
    expect(wait).toBeGreaterThan(0);
    clock.now += wait;
    // The token is there, but bulk callers leave it to the interactive one, however many they are.
    for (let i = 0; i < 5; i++) expect(await limits.tryTake(kms, "CreateKey", "bulk")).toBeGreaterThan(0);
    expect(await limits.tryTake(kms, "CreateKey", "interactive", "urgent-1")).toBe(0);
    // Once it has its token, bulk work takes the next ones as before.
    clock.now += 1000;
    expect(await limits.tryTake(kms, "CreateKey", "bulk")).toBe(0);

    // Of three slots, bulk work gets two: the third stays free for interactive work.
    const release: Array<() => void> = [];
    const hold = (lane: "bulk" | "interactive") =>
      new Promise<void>((held) => {
        void limits.withSlot(
          kms,
          () => new Promise<void>((done) => release.push(done) && held()),
          undefined,
          lane,
        );
      });
    await hold("bulk");
    await hold("bulk");
    const third = limits.withSlot(kms, async () => "bulk got in", undefined, "bulk");
    const interactive = await limits.withSlot(
      kms,
      async () => "interactive got in",
      undefined,
      "interactive",
    );
    expect(interactive).toBe("interactive got in");
    for (const done of release) done();
    expect(await third).toBe("bulk got in");
    limits.stop();
  });

  it("hands a long wait back to the queue as throttling instead of holding the worker", async () => {
    const { redis, prefix } = testRedis();
    const clock = { now: 5_000_000 };
    const slept: number[] = [];
    const options = (maxWaitMs: number) => ({
      worker,
      clock: () => clock.now,
      maxWaitMs,
      sleep: async (ms: number) => {
        slept.push(ms);
        clock.now += ms;
      },
    });
    const patient = createDestinationLimits(redis, prefix, options(1_500));
    const hurried = createDestinationLimits(redis, prefix, options(500));
    const kms = aws("aws-busy", { rateLimitPerSecond: 1 });
    await patient.acquire(kms, "CreateKey");
    // The next token is a second away: within 1.5 s, so this step waits in place.
    await patient.acquire(kms, "CreateKey");
    expect(slept).toHaveLength(1);
    // Past 0.5 s the step is handed back, with the time to come back after, and nothing is slept.
    await expect(hurried.acquire(kms, "CreateKey")).rejects.toMatchObject({
      kind: "throttled",
      remoteCode: "keyferry.DestinationBusy",
      retryAfterMs: expect.any(Number),
    });
    expect(slept).toHaveLength(1);
    patient.stop();
    hurried.stop();
  });

  it("destinations on one AWS account and region share its published quota; their own limits stay their own", async () => {
    const { redis, prefix } = testRedis();
    const clock = { now: 9_000_000 };
    const limits = createDestinationLimits(redis, prefix, { worker, clock: () => clock.now });
    const base = {
      provider: "awskms" as const,
      keyCollection: "eu-west-1",
      credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE01", secretAccessKey: "never-in-a-key-name" },
      options: {},
      revision: 1,
    };
    const scope = quotaScopeOf({ ...base, name: "prod-a" });
    expect(quotaScopeOf({ ...base, name: "prod-b" })).toBe(scope);
    expect(quotaScopeOf({ ...base, name: "dr", keyCollection: "eu-central-1" })).not.toBe(scope);
    expect(scope).not.toMatch(/AKIA|never/);
    const a = aws("prod-a");
    const b = aws("prod-b");
    // GetParametersForImport: 1 per second per account and region, whichever destination asks.
    expect(await limits.tryTake({ ...a, quotaScope: scope }, "GetParametersForImport")).toBe(0);
    expect(await limits.tryTake({ ...b, quotaScope: scope }, "GetParametersForImport")).toBeGreaterThan(0);
    expect(await limits.tryTake({ ...b, quotaScope: "another-account" }, "GetParametersForImport")).toBe(0);
    limits.stop();
  });
});

import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FaultInjector, parseFaultOptions } from "../../src/emulators/common/faults.js";
import { parseQuotaMode, QuotaLimiter } from "../../src/emulators/common/quota.js";
import { StateFile } from "../../src/emulators/common/state-file.js";

describe("emulator quotas", () => {
  it("parses real, off and scales", () => {
    expect(parseQuotaMode("real")).toEqual({ kind: "scaled", scale: 1 });
    expect(parseQuotaMode("OFF")).toEqual({ kind: "off" });
    expect(parseQuotaMode("10x")).toEqual({ kind: "scaled", scale: 10 });
    expect(parseQuotaMode("0.5")).toEqual({ kind: "scaled", scale: 0.5 });
    expect(() => parseQuotaMode("fast")).toThrow(/real/);
    expect(() => parseQuotaMode("0x")).toThrow();
  });

  it("allows the published burst, then throttles with the wait until the next token", () => {
    let now = 1_000_000;
    const limiter = new QuotaLimiter(
      { CreateKey: { requests: 5, perSeconds: 1 }, HsmCreate: { requests: 10, perSeconds: 10 } },
      { kind: "scaled", scale: 1 },
      () => now,
    );
    for (let i = 0; i < 5; i++) expect(limiter.take("CreateKey")).toEqual({ allowed: true });
    expect(limiter.take("CreateKey")).toEqual({ allowed: false, retryAfterMs: 200 });
    now += 200;
    expect(limiter.take("CreateKey")).toEqual({ allowed: true });
    for (let i = 0; i < 10; i++) limiter.take("HsmCreate");
    expect(limiter.take("HsmCreate")).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(limiter.take("Unlisted")).toEqual({ allowed: true });
    expect(limiter.throttled.get("CreateKey")).toBe(1);
  });

  it("a sustained rate settles at the quota, scaled", () => {
    let now = 0;
    const limiter = new QuotaLimiter(
      { Get: { requests: 1, perSeconds: 1 } },
      { kind: "scaled", scale: 10 },
      () => now,
    );
    let allowed = 0;
    for (let ms = 0; ms <= 60_000; ms += 10) {
      now = ms;
      if (limiter.take("Get").allowed) allowed += 1;
    }
    // 10 per second for 60 s, plus the initial burst of 10.
    expect(allowed).toBe(610);
    limiter.setMode({ kind: "off" });
    expect(limiter.take("Get")).toEqual({ allowed: true });
  });
});

describe("fault injection", () => {
  it("scheduled throttles, errors and failures after commit hit only their operation and run out", async () => {
    const faults = new FaultInjector();
    faults.throttleNext(2, { operation: "CreateKey", retryAfterMs: 1500 });
    faults.errorNext(1, { operation: "DescribeKey" });
    faults.failAfterCommitNext(1, { operation: "ImportKeyMaterial", mode: "drop" });
    expect(await faults.before("DescribeKey")).toEqual({ kind: "error" });
    expect(await faults.before("DescribeKey")).toEqual({ kind: "proceed" });
    expect(await faults.before("CreateKey")).toEqual({ kind: "throttle", retryAfterMs: 1500 });
    expect(await faults.before("CreateKey")).toEqual({ kind: "throttle", retryAfterMs: 1500 });
    expect(await faults.before("CreateKey")).toEqual({ kind: "proceed" });
    expect(faults.after("CreateKey", true)).toBe("answer");
    expect(faults.after("ImportKeyMaterial", true)).toBe("drop");
    expect(faults.after("ImportKeyMaterial", true)).toBe("answer");
    expect(faults.injected).toEqual({ throttle: 2, error: 1, afterCommit: 1 });
  });

  it("rates apply to the configured operations and only mutating calls fail after commit", async () => {
    const faults = new FaultInjector(() => 0);
    faults.configure({
      errorRate: 0.5,
      failAfterCommitRate: 1,
      failAfterCommitMode: "drop",
      operations: ["CreateKey"],
    });
    expect(await faults.before("DescribeKey")).toEqual({ kind: "proceed" });
    expect(await faults.before("CreateKey")).toEqual({ kind: "error" });
    expect(faults.after("CreateKey", true)).toBe("drop");
    expect(faults.after("CreateKey", false)).toBe("answer");
    expect(faults.after("ListKeys", true)).toBe("answer");
  });

  it("parses the command line's fault options", () => {
    expect(
      parseFaultOptions({
        latency: "5-50",
        errorRate: "0.01",
        failAfterCommit: "0.1:drop",
        faultOperations: "A, B",
      }),
    ).toEqual({
      latencyMs: { min: 5, max: 50 },
      errorRate: 0.01,
      throttleRate: undefined,
      failAfterCommitRate: 0.1,
      failAfterCommitMode: "drop",
      operations: ["A", "B"],
    });
    expect(() => parseFaultOptions({ errorRate: "2" })).toThrow(/fraction/);
    expect(() => parseFaultOptions({ latency: "soon" })).toThrow(/latency/);
  });
});

describe("emulator state file", () => {
  it("writes atomically, readable by its owner only, and reads back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kf-state-"));
    try {
      let state = { keys: [1] };
      const file = new StateFile(join(dir, "state.json"), () => state);
      expect(await file.load()).toBeUndefined();
      await file.save();
      state = { keys: [1, 2] };
      await Promise.all([file.save(), file.save(), file.save()]);
      expect(JSON.parse(await readFile(file.path, "utf8"))).toEqual({ keys: [1, 2] });
      expect((await stat(file.path)).mode & 0o777).toBe(0o600);
      expect(await file.load()).toEqual({ keys: [1, 2] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

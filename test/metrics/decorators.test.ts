import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { instrumentLimits } from "../../src/metrics/limits.js";
import { createMetrics } from "../../src/metrics/metrics.js";
import { instrumentProviders } from "../../src/metrics/providers.js";
import { startMetricsServer } from "../../src/metrics/server.js";
import type { DestinationRef } from "../../src/operations/engine.js";
import { DESTINATION_BUSY } from "../../src/providers/provider-error.js";
import { createProviderRegistry } from "../../src/providers/registry.js";
import { createDestinationLimits } from "../../src/queue/limits.js";
import { useTestRedis } from "../helpers/redis.js";
import { parseExposition } from "./exposition.js";

/** The instrumenting decorators on their own, around the real limiter (Redis) and the real providers. */
const testRedis = useTestRedis();
const silent = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));

const read = async (registry: ReturnType<typeof createMetrics>["registry"]) =>
  parseExposition(await registry.metrics());

describe("the limits decorator", () => {
  it("observes waits and counts DESTINATION_BUSY bounces as throttling, per limit", async () => {
    const { redis, prefix } = testRedis();
    const metrics = createMetrics({ defaultMetrics: false });
    const inner = createDestinationLimits(redis, prefix, {
      worker: { kmsConcurrency: 1, rateLimitScale: 1 },
      maxWaitMs: 0,
      slotPollMs: 5,
    });
    const limits = instrumentLimits(inner, metrics);
    const kms: DestinationRef = {
      name: "aws-slow",
      provider: "awskms",
      options: { rateLimitPerSecond: 0.01 },
    };
    try {
      await limits.acquire(kms, "CreateKey");
      await expect(limits.acquire(kms, "CreateKey")).rejects.toMatchObject({ remoteCode: DESTINATION_BUSY });

      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let holding = () => {};
      const slotTaken = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const holder = limits.withSlot(kms, async () => {
        holding();
        await held;
      });
      await slotTaken;
      await expect(limits.withSlot(kms, async () => {})).rejects.toMatchObject({
        remoteCode: DESTINATION_BUSY,
      });
      release();
      await holder;
      // A failure of the work itself is neither a wait nor a bounce.
      await expect(
        limits.withSlot(kms, async () => Promise.reject(new Error("work failed"))),
      ).rejects.toThrow("work failed");
    } finally {
      inner.stop();
    }

    const m = await read(metrics.registry);
    const waits = (limit: string, outcome: string) =>
      m.sum("keyferry_limit_wait_seconds_count", { provider: "awskms", limit, outcome });
    expect([waits("rate", "acquired"), waits("rate", "bounced")]).toEqual([1, 1]);
    expect([waits("concurrency", "acquired"), waits("concurrency", "bounced")]).toEqual([2, 1]);
    const throttles = (source: string) =>
      m.sum("keyferry_throttle_events_total", { provider: "awskms", kms: "aws-slow", source });
    expect([throttles("rate_limit"), throttles("concurrency"), throttles("cloud")]).toEqual([1, 1, 0]);
  });
});

describe("the provider decorator", () => {
  it("keeps each provider's members as they are: optional methods stay absent, sync checks stay sync", () => {
    const registry = createProviderRegistry(silent);
    const instrumented = instrumentProviders(registry, createMetrics({ defaultMetrics: false }));
    try {
      for (const name of ["awskms", "azurekeyvault"] as const) {
        const plain = registry.get(name);
        const wrapped = instrumented.get(name);
        expect(wrapped.provider).toBe(name);
        expect(instrumented.get(name)).toBe(wrapped);
        for (const member of ["prepareBatch", "finishBatch", "distribute", "listManaged"] as const) {
          expect(typeof wrapped[member], `${name}.${member}`).toBe(typeof plain[member]);
        }
        const destination = {
          name: "d",
          provider: name,
          keyCollection: name === "awskms" ? "us-east-1" : "vault",
          credentials: undefined,
          options: {},
          revision: 1,
        };
        // AWS refuses EC keys for encryption; Azure refuses AES outside a Managed HSM.
        const key = {
          name: "k",
          type: name === "awskms" ? ("ecdsa-p256" as const) : ("aes256-gcm96" as const),
          purposes: ["encrypt", "decrypt"] as const,
          protection: "hsm" as const,
        };
        expect(() => wrapped.checkSupport(destination, key)).toThrow();
        expect(() => plain.checkSupport(destination, key)).toThrow();
      }
    } finally {
      instrumented.close();
    }
  });
});

describe("the worker's metrics server", () => {
  it("serves /metrics without a token when public, and nothing else", async () => {
    const metrics = createMetrics();
    const server = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      metrics,
      access: { public: true },
      logger: silent,
    });
    try {
      const answer = await fetch(server.url);
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toContain("text/plain");
      expect(parseExposition(await answer.text()).type.get("process_cpu_user_seconds_total")).toBe("counter");
      expect((await fetch(server.url, { method: "POST" })).status).toBe(405);
      expect((await fetch(server.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

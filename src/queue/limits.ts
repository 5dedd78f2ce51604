import { createHash, randomUUID } from "node:crypto";
import { abortableSleep as sleep } from "../backoff.js";
import type { Config } from "../config.js";
import type { DestinationLimits, DestinationRef } from "../operations/engine.js";
import type { Redis } from "../redis.js";
import { RENEW_SLOT, TAKE_SLOT, TAKE_TOKEN } from "./limit-scripts.js";
import { bucketRate } from "./quotas.js";

export interface DestinationLimitsOptions {
  worker: Pick<Config["worker"], "kmsConcurrency" | "rateLimitScale">;
  /** Slot leases expire after this unless renewed (a SIGKILLed holder frees its slot after it). */
  leaseMs?: number;
  /** Longest sleep between two looks at a full semaphore. */
  slotPollMs?: number;
  /** Milliseconds; Redis's clock when absent, so that all hosts share one. */
  clock?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface SharedDestinationLimits extends DestinationLimits {
  /** One try at a token: 0 when taken, else the milliseconds until one is there. */
  tryTake(kms: DestinationRef, operation: string): Promise<number>;
  /** Stop renewing leases (on shutdown, after in-flight work has ended). */
  stop(): void;
}

/** Where a destination's limiter state lives; the prefix carries the {hash tag}. */
export const limitKeys = {
  root: (prefix: string) => `${prefix}:limits:`,
  bucket: (prefix: string, kms: string, bucket: string) =>
    `${prefix}:limits:${encodeURIComponent(kms)}:rate:${bucket}`,
  slots: (prefix: string, kms: string) => `${prefix}:limits:${encodeURIComponent(kms)}:slots`,
};

function scriptRunner(redis: Redis) {
  const shas = new Map<string, string>();
  return async (script: string, key: string, args: Array<string | number>): Promise<number> => {
    let sha = shas.get(script);
    if (!sha) {
      sha = createHash("sha1").update(script).digest("hex");
      shas.set(script, sha);
    }
    try {
      return Number(await redis.evalsha(sha, 1, key, ...args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return Number(await redis.eval(script, 1, key, ...args));
    }
  };
}

/**
 * Per-destination limits shared by every worker on every host (SPEC section 6): a token bucket per
 * (destination, quota bucket) and a concurrency semaphore per destination, both in Redis. Waiting never
 * fails and never holds anything but the waiter, so a throttled destination does not delay the others.
 */
export function createDestinationLimits(
  redis: Redis,
  prefix: string,
  options: DestinationLimitsOptions,
): SharedDestinationLimits {
  const run = scriptRunner(redis);
  const leaseMs = options.leaseMs ?? 30_000;
  const slotPollMs = options.slotPollMs ?? 250;
  const now = () => (options.clock ? String(options.clock()) : "");
  const wait = options.sleep ?? sleep;
  const renewals = new Set<NodeJS.Timeout>();

  const tryTake = (kms: DestinationRef, operation: string) => {
    const rate = bucketRate(
      kms.provider,
      operation,
      options.worker.rateLimitScale,
      kms.options.rateLimitPerSecond,
    );
    return run(TAKE_TOKEN, limitKeys.bucket(prefix, kms.name, rate.bucket), [
      rate.capacity,
      rate.ratePerMs,
      now(),
    ]);
  };

  return {
    tryTake,

    async acquire(kms, operation, signal) {
      for (;;) {
        signal?.throwIfAborted();
        const ms = await tryTake(kms, operation);
        if (ms === 0) return;
        // A little jitter so that waiters of one bucket do not all come back at the same moment.
        await wait(ms + Math.floor(Math.random() * Math.min(50, ms)), signal);
      }
    },

    async withSlot(kms, work, signal) {
      const key = limitKeys.slots(prefix, kms.name);
      const limit = kms.options.concurrency ?? options.worker.kmsConcurrency;
      const lease = randomUUID();
      for (;;) {
        signal?.throwIfAborted();
        const ms = await run(TAKE_SLOT, key, [limit, lease, now(), leaseMs]);
        if (ms === 0) break;
        await wait(Math.min(ms, slotPollMs) + Math.floor(Math.random() * 25), signal);
      }
      const renewal = setInterval(() => {
        run(RENEW_SLOT, key, [lease, "", now(), leaseMs]).catch(() => {});
      }, leaseMs / 3);
      renewal.unref();
      renewals.add(renewal);
      try {
        return await work();
      } finally {
        clearInterval(renewal);
        renewals.delete(renewal);
        await redis.zrem(key, lease).catch(() => {});
      }
    },

    stop() {
      for (const renewal of renewals) clearInterval(renewal);
      renewals.clear();
    },
  };
}

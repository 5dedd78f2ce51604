import { createHash, randomUUID } from "node:crypto";
import { abortableSleep as sleep } from "../backoff.js";
import type { Config } from "../config.js";
import type { DestinationLimits, DestinationRef, Lane } from "../operations/engine.js";
import { DESTINATION_BUSY, ProviderError } from "../providers/provider-error.js";
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
  /**
   * The longest a step waits in place for a token or a slot. Past it the step gives its worker back: a
   * `throttled` ProviderError with the time to wait, so the operation is delayed in the queue and the
   * worker's concurrency goes to other destinations' work (a throttled destination delays no other).
   */
  maxWaitMs?: number;
}

export interface SharedDestinationLimits extends DestinationLimits {
  /** One try at a token: 0 when taken, else the milliseconds until one is there. */
  tryTake(kms: DestinationRef, operation: string, lane?: Lane, waiter?: string): Promise<number>;
  /** Stop renewing leases (on shutdown, after in-flight work has ended). */
  stop(): void;
}

/** Where a destination's limiter state lives; the prefix carries the {hash tag}. */
export const limitKeys = {
  root: (prefix: string) => `${prefix}:limits:`,
  bucket: (prefix: string, kms: string, bucket: string) =>
    `${prefix}:limits:${encodeURIComponent(kms)}:rate:${bucket}`,
  /** Interactive callers waiting for a bucket's next token (bulk callers yield to them). */
  waiters: (prefix: string, kms: string, bucket: string) =>
    `${prefix}:limits:${encodeURIComponent(kms)}:waiters:${bucket}`,
  slots: (prefix: string, kms: string) => `${prefix}:limits:${encodeURIComponent(kms)}:slots`,
};

function scriptRunner(redis: Redis) {
  const shas = new Map<string, string>();
  return async (script: string, key: string | string[], args: Array<string | number>): Promise<number> => {
    const keys = Array.isArray(key) ? key : [key];
    let sha = shas.get(script);
    if (!sha) {
      sha = createHash("sha1").update(script).digest("hex");
      shas.set(script, sha);
    }
    try {
      return Number(await redis.evalsha(sha, keys.length, ...keys, ...args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return Number(await redis.eval(script, keys.length, ...keys, ...args));
    }
  };
}

/**
 * Per-destination limits shared by every worker on every host (SPEC section 6): a token bucket per
 * (destination, quota bucket) and a concurrency semaphore per destination, both in Redis. A short wait
 * happens in place; a long one hands the step back to the queue (see `maxWaitMs`), so that a throttled
 * destination never holds the workers that other destinations' operations need.
 */
export function createDestinationLimits(
  redis: Redis,
  prefix: string,
  options: DestinationLimitsOptions,
): SharedDestinationLimits {
  const run = scriptRunner(redis);
  const leaseMs = options.leaseMs ?? 30_000;
  const slotPollMs = options.slotPollMs ?? 250;
  const maxWaitMs = options.maxWaitMs ?? 5_000;
  const now = () => (options.clock ? String(options.clock()) : "");
  const wait = options.sleep ?? sleep;
  const renewals = new Set<NodeJS.Timeout>();

  const tryTake = (kms: DestinationRef, operation: string, lane: Lane = "interactive", waiter = "") => {
    const rate = bucketRate(
      kms.provider,
      operation,
      options.worker.rateLimitScale,
      kms.options.rateLimitPerSecond,
      kms.provider === "azurekeyvault" && kms.options.managedHsm === true,
    );
    // The published quotas belong to the account and region (AWS) or the vault (Azure), not to one destination.
    const owner = kms.options.rateLimitPerSecond === undefined ? (kms.quotaScope ?? kms.name) : kms.name;
    return run(
      TAKE_TOKEN,
      [limitKeys.bucket(prefix, owner, rate.bucket), limitKeys.waiters(prefix, owner, rate.bucket)],
      [rate.capacity, rate.ratePerMs, now(), lane, waiter || randomUUID(), WAITER_TTL_MS],
    );
  };

  return {
    tryTake,

    async acquire(kms, operation, signal, lane = "interactive") {
      let waited = 0;
      const waiter = randomUUID();
      for (;;) {
        signal?.throwIfAborted();
        const ms = await tryTake(kms, operation, lane, waiter);
        if (ms === 0) return;
        if (waited + ms > maxWaitMs) throw waitTooLong(kms, "rate limit", ms);
        waited += ms;
        // A little jitter so that waiters of one bucket do not all come back at the same moment.
        await wait(ms + Math.floor(Math.random() * Math.min(50, ms)), signal);
      }
    },

    async withSlot(kms, work, signal, lane = "interactive") {
      const key = limitKeys.slots(prefix, kms.name);
      const cap = kms.options.concurrency ?? options.worker.kmsConcurrency;
      // Bulk work leaves one slot to interactive work (when there is more than one).
      const limit = lane === "bulk" && cap > 1 ? cap - 1 : cap;
      const lease = randomUUID();
      let waited = 0;
      for (;;) {
        signal?.throwIfAborted();
        const ms = await run(TAKE_SLOT, key, [limit, lease, now(), leaseMs]);
        if (ms === 0) break;
        if (waited > maxWaitMs) throw waitTooLong(kms, "concurrency cap", Math.min(ms, slotPollMs * 4));
        waited += Math.min(ms, slotPollMs);
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

/** An interactive waiter is forgotten this long after the token it waits for (it gave up or died). */
const WAITER_TTL_MS = 1_000;

function waitTooLong(kms: DestinationRef, limit: string, retryAfterMs: number): ProviderError {
  return new ProviderError(
    "throttled",
    DESTINATION_BUSY,
    `destination ${kms.name} is at its ${limit}; the step goes back to the queue for ${retryAfterMs} ms`,
    { retryAfterMs },
  );
}

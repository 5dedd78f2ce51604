import { abortableSleep, fullJitterDelay } from "../backoff.js";
import { DESTINATION_BUSY, type ProviderError, type ProviderErrorKind } from "./provider-error.js";

/**
 * In-place retrying of one cloud call, shared by the providers. The SDKs' own retries are switched off so
 * that every failure passes through the provider's error mapping: throttling waits for the delay the cloud
 * asked for (or a backoff when it named none), transient failures back off with full jitter, permanent ones
 * are thrown at once. Only calls that are safe to repeat may be wrapped with the default `retryOn`; a call
 * that is not idempotent may still retry `throttled`, because a throttled request was never carried out.
 */

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  /** Cap of one backoff wait, and the longest asked-for delay worth holding a worker for. */
  maxDelayMs: number;
  signal?: AbortSignal | undefined;
  /** Which kinds are retried here (default: throttled and transient). */
  retryOn?: ReadonlySet<ProviderErrorKind>;
  /** Injectable for tests; the default is an abortable timer. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  random?: () => number;
  /** Called before each wait, for logging and metrics. */
  onRetry?: (error: ProviderError, attempt: number, delayMs: number) => void;
}

export const RETRY_ALL: ReadonlySet<ProviderErrorKind> = new Set(["throttled", "transient"]);
export const RETRY_THROTTLED: ReadonlySet<ProviderErrorKind> = new Set(["throttled"]);

export async function withRetry<T>(
  call: (attempt: number) => Promise<T>,
  classify: (error: unknown) => ProviderError,
  options: RetryOptions,
): Promise<T> {
  const retryOn = options.retryOn ?? RETRY_ALL;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (caught) {
      const error = classify(caught);
      if (!retryOn.has(error.kind) || attempt >= options.attempts || options.signal?.aborted) throw error;
      // keyferry's own limiter said to come back later: waiting here would hold the worker it wants freed.
      if (error.remoteCode === DESTINATION_BUSY) throw error;
      const asked = error.retryAfterMs;
      // A longer wait than this loop may hold a worker for goes back to the scheduler, which has the delay.
      if (asked !== undefined && asked > options.maxDelayMs) throw error;
      const delayMs = asked ?? backoffDelay(attempt, options.baseDelayMs, options.maxDelayMs, random);
      options.onRetry?.(error, attempt, delayMs);
      try {
        await sleep(delayMs, options.signal);
      } catch {
        throw error;
      }
    }
  }
}

/** "Full jitter": uniform in [0, min(cap, base·2^n)). */
export const backoffDelay = fullJitterDelay;

export { abortableSleep };

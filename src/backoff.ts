/**
 * Waiting between tries, shared by the providers' in-place retries and the queue's. Both are exponential and
 * capped; they differ in jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * - full jitter, uniform in [0, ceiling): cloud calls, where many workers retry against one quota;
 * - equal jitter, half fixed and half random: queue retries, which should never come back at once.
 */
function ceilingOf(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  return Math.floor(random() * ceilingOf(attempt, baseMs, maxMs));
}

export function equalJitterDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = ceilingOf(attempt, baseMs, maxMs);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

import type { DestinationLimits, DestinationRef } from "../operations/engine.js";
import { DESTINATION_BUSY, ProviderError } from "../providers/provider-error.js";
import { type Metrics, secondsSince } from "./metrics.js";

type Instruments = Pick<Metrics, "limitWaits" | "throttles">;
type Limit = "rate" | "concurrency";

/** What follows `(kms, work)` in `withSlot` (the signal, and whatever the engine adds), passed on as it is. */
type SlotRest = Parameters<DestinationLimits["withSlot"]> extends [unknown, unknown, ...infer R] ? R : never;

const isBusy = (error: unknown) => error instanceof ProviderError && error.remoteCode === DESTINATION_BUSY;

/**
 * The destination limits with the time spent waiting for a token or a slot observed, and the bounces (a
 * wait too long to hold a worker for: DESTINATION_BUSY, the step goes back to the queue) counted as
 * throttling events. The wrapped limits keep their own lifecycle (`stop`) with the caller.
 */
export function instrumentLimits(inner: DestinationLimits, metrics: Instruments): DestinationLimits {
  const waited = (kms: DestinationRef, limit: Limit, started: number, error?: unknown) => {
    const outcome = error === undefined ? "acquired" : isBusy(error) ? "bounced" : "aborted";
    metrics.limitWaits.observe({ provider: kms.provider, limit, outcome }, secondsSince(started));
    if (outcome === "bounced") {
      metrics.throttles.inc({
        provider: kms.provider,
        kms: kms.name,
        source: limit === "rate" ? "rate_limit" : "concurrency",
      });
    }
  };

  return {
    async acquire(...args: Parameters<DestinationLimits["acquire"]>) {
      const [kms] = args;
      const started = performance.now();
      try {
        await inner.acquire(...args);
      } catch (error) {
        waited(kms, "rate", started, error);
        throw error;
      }
      waited(kms, "rate", started);
    },

    async withSlot<T>(kms: DestinationRef, work: () => Promise<T>, ...rest: SlotRest) {
      const started = performance.now();
      let holding = false;
      try {
        return await inner.withSlot(
          kms,
          () => {
            holding = true;
            waited(kms, "concurrency", started);
            return work();
          },
          ...rest,
        );
      } catch (error) {
        // A failure of the work itself is not a wait; only one before the slot was granted is.
        if (!holding) waited(kms, "concurrency", started, error);
        throw error;
      }
    },
  };
}

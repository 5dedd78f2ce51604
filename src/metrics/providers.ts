import type { Provider } from "../db/schema/index.js";
import type { KmsDestination, KmsProvider, ProviderContext } from "../providers/kms-provider.js";
import { DESTINATION_BUSY, ProviderError } from "../providers/provider-error.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { type Metrics, secondsSince } from "./metrics.js";

type Instruments = Pick<Metrics, "providerCalls" | "providerErrors" | "providerRequests" | "throttles">;

/**
 * The provider registry with every KmsProvider method timed and its failures counted, and every cloud
 * request counted by name (through `ctx.beforeCall`, which the providers call before each request).
 * Made in the worker's composition root; the engine sees an ordinary registry.
 *
 * Throttling the providers retry in place and then get past is invisible here (it ends inside the
 * provider); a throttled error that leaves the method is counted, except DESTINATION_BUSY, which the limits
 * decorator counts where it happens.
 */
export function instrumentProviders(registry: ProviderRegistry, metrics: Instruments): ProviderRegistry {
  const wrapped = new Map<Provider, KmsProvider>();
  return {
    get(provider) {
      let found = wrapped.get(provider);
      if (!found) {
        found = instrumentProvider(registry.get(provider), metrics);
        wrapped.set(provider, found);
      }
      return found;
    },
    close: () => registry.close(),
  };
}

/**
 * The methods timed: each takes `(ctx, destination, ...)` and returns a promise. Every other member (the
 * provider name, checkSupport, close, anything added later) passes through untouched, and an optional method
 * a provider lacks stays absent.
 */
const TIMED: ReadonlySet<string> = new Set([
  "distribute",
  "rotate",
  "setMinEnabledVersion",
  "remove",
  "describe",
  "verify",
  "listManaged",
  "prepareBatch",
  "finishBatch",
]);

type ProviderMethod = (
  ctx: ProviderContext,
  destination: KmsDestination,
  ...args: unknown[]
) => Promise<unknown>;

export function instrumentProvider(inner: KmsProvider, metrics: Instruments): KmsProvider {
  const provider = inner.provider;

  const timed =
    (method: string, call: ProviderMethod): ProviderMethod =>
    async (ctx, destination, ...args) => {
      const counted: ProviderContext = {
        ...ctx,
        beforeCall: async (request) => {
          await ctx.beforeCall?.(request);
          // Counted once the limiter let it through: a request bounced by keyferry's own limit was never sent.
          metrics.providerRequests.inc({ provider, request });
        },
      };
      const started = performance.now();
      try {
        const result = await call(counted, destination, ...args);
        metrics.providerCalls.observe({ provider, method, outcome: "ok" }, secondsSince(started));
        return result;
      } catch (error) {
        const kind = error instanceof ProviderError ? error.kind : "other";
        metrics.providerCalls.observe({ provider, method, outcome: kind }, secondsSince(started));
        metrics.providerErrors.inc({ provider, method, kind });
        if (
          error instanceof ProviderError &&
          error.kind === "throttled" &&
          error.remoteCode !== DESTINATION_BUSY
        ) {
          metrics.throttles.inc({ provider, kms: destination.name, source: "cloud" });
        }
        throw error;
      }
    };

  const wrappers = new Map<string, ProviderMethod>();
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (typeof property !== "string" || !TIMED.has(property)) return value.bind(target);
      let wrapper = wrappers.get(property);
      if (!wrapper) {
        wrapper = timed(property, (value as ProviderMethod).bind(target));
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

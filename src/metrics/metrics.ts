import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * The process-local metrics of one keyferry process: a registry of its own (no prom-client global), the
 * default process metrics, and the instruments that the worker's decorators, the operations worker and the
 * ledger chainer observe into. The PostgreSQL- and Redis-derived families are added to the API's registry
 * only (store-collectors.ts), so that N worker processes do not report the same database N times.
 *
 * Labels stay bounded: providers, KmsProvider methods, cloud request names, error kinds, operation types and
 * states, and destination names (a small set admins define). Never key names, operation ids or remote ids.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One KmsProvider method call, end to end (in-place retries and rate-limit waits included). */
  readonly providerCalls: Histogram<"provider" | "method" | "outcome">;
  readonly providerErrors: Counter<"provider" | "method" | "kind">;
  /** Cloud requests sent (retries included), by the cloud's own request name. */
  readonly providerRequests: Counter<"provider" | "request">;
  readonly throttles: Counter<"provider" | "kms" | "source">;
  readonly limitWaits: Histogram<"provider" | "limit" | "outcome">;
  readonly operationRuns: Counter<"outcome">;
  readonly operationDurations: Histogram<"type" | "state">;
  readonly chainPasses: Histogram<string>;
  readonly chainedEntries: Counter<string>;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface MetricsOptions {
  /** prom-client's default process metrics (CPU, memory, event loop, GC); on unless false. */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    providerCalls: new Histogram({
      name: "keyferry_provider_call_duration_seconds",
      help: "KmsProvider method calls (distribute, rotate, verify, ...) by provider and outcome (ok or the ProviderError kind)",
      labelNames: ["provider", "method", "outcome"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    providerErrors: new Counter({
      name: "keyferry_provider_call_errors_total",
      help: "KmsProvider method calls that failed, by ProviderError kind (throttled, transient, permanent; other: not a ProviderError)",
      labelNames: ["provider", "method", "kind"],
      registers,
    }),
    providerRequests: new Counter({
      name: "keyferry_provider_requests_total",
      help: "Requests sent to a cloud (in-place retries included), by the cloud's request name (CreateKey, importKey, ...)",
      labelNames: ["provider", "request"],
      registers,
    }),
    throttles: new Counter({
      name: "keyferry_throttle_events_total",
      help: "Throttling: cloud throttling that reached the engine (source=cloud) and steps bounced back to the queue by the destination's rate limit or concurrency cap (DESTINATION_BUSY)",
      labelNames: ["provider", "kms", "source"],
      registers,
    }),
    limitWaits: new Histogram({
      name: "keyferry_limit_wait_seconds",
      help: "Time spent waiting for a destination's rate-limit token (limit=rate) or concurrency slot (limit=concurrency); outcome acquired, bounced or aborted",
      labelNames: ["provider", "limit", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    operationRuns: new Counter({
      name: "keyferry_operation_runs_total",
      help: "Runs of operations by this worker process, by outcome (succeeded, failed, canceled: final; blocked, retry: back to the queue; released: shutdown; crashed: engine error)",
      labelNames: ["outcome"],
      registers,
    }),
    operationDurations: new Histogram({
      name: "keyferry_operation_duration_seconds",
      help: "Operations from acceptance to their final state, observed by the worker process whose run finished them",
      labelNames: ["type", "state"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    chainPasses: new Histogram({
      name: "keyferry_ledger_chain_pass_duration_seconds",
      help: "Ledger chainer passes of this process that chained entries",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    chainedEntries: new Counter({
      name: "keyferry_ledger_chained_entries_total",
      help: "Ledger entries chained by this process's chainer",
      registers,
    }),
  };
}

/** Seconds since a `performance.now()` reading. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** The ledger chainer's `onPass` (src/ledger/chainer.ts). */
export function chainPassObserver(metrics: Pick<Metrics, "chainPasses" | "chainedEntries">) {
  return (chained: number, seconds: number): void => {
    metrics.chainPasses.observe(seconds);
    metrics.chainedEntries.inc(chained);
  };
}

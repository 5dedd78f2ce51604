import type { Queue } from "bullmq";
import { Gauge, Histogram } from "prom-client";
import type { Database } from "../db/client.js";
import { OPERATION_STATES, OPERATION_TYPES } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import { QUEUE_STATES } from "../queue/queue-stats.js";
import { DRIFT_KINDS, type DriftFound, latestDrift } from "./drift.js";
import type { Metrics } from "./metrics.js";
import {
  type Backlog,
  ledgerBacklog,
  ledgerHeadSeq,
  ledgerWaitsAfter,
  type OperationCount,
  operationCounts,
  outboxBacklog,
} from "./store-queries.js";

const COLLECTORS = ["queue", "operations", "outbox", "ledger", "drift"] as const;
type Collector = (typeof COLLECTORS)[number];

/** Ledger entries read per scrape for the append-wait histogram; a backlog is caught up over later scrapes. */
const LEDGER_ENTRIES_PER_SCRAPE = 10_000;

export interface StoreSources {
  db: Database;
  /** The operations queue, on a connection of the API's. */
  queue: Pick<Queue, "name" | "getJobCounts">;
  /** Whether that connection is up: commands on a down one wait for a reconnect instead of failing. */
  redisReady: () => boolean;
  logger: Logger;
  /** Longest wait for one source during a scrape. */
  timeoutMs?: number;
}

interface Snapshot {
  queue?: Record<string, number>;
  operations?: OperationCount[];
  outbox?: Backlog;
  ledger?: Backlog;
  drift?: DriftFound[];
  up: Record<Collector, boolean>;
}

/**
 * The families read from PostgreSQL and Redis when scraped: queue depth, operation counts, outbox lag, the
 * ledger backlog and append waits, drift findings. They describe shared state, so only the API registers
 * them (any API instance gives the same figures: scrape one, or aggregate them with max, not sum). All the
 * gauges of one scrape share one set of reads; a source that fails or hangs leaves its families empty and
 * `keyferry_metrics_collector_up` at 0 instead of failing the scrape.
 */
export function registerStoreCollectors(metrics: Pick<Metrics, "registry">, sources: StoreSources): void {
  const registers = [metrics.registry];
  const timeoutMs = sources.timeoutMs ?? 2_000;
  const { db } = sources;
  const wasUp = new Map<Collector, boolean>();

  // Append waits are observed for entries chained after this process started (seq order, see the query).
  let ledgerCursor: number | undefined;
  const cursorReady = ledgerHeadSeq(db).then(
    (seq) => {
      ledgerCursor ??= seq;
    },
    () => {},
  );
  const waitsHistogram = new Histogram({
    name: "keyferry_ledger_append_wait_seconds",
    help: "Ledger entries, from being recorded (ledger_pending) to being hash-chained, for entries chained since this API process started",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers,
    collect: async () => {
      await snapshot();
    },
  });
  // One read at a time, so that a read outliving its scrape's timeout never observes an entry twice.
  let ledgerReads: Promise<void> = cursorReady;
  const observeLedgerWaits = () => {
    ledgerReads = ledgerReads
      .catch(() => {})
      .then(async () => {
        ledgerCursor ??= await ledgerHeadSeq(db);
        const waits = await ledgerWaitsAfter(db, ledgerCursor, LEDGER_ENTRIES_PER_SCRAPE);
        for (const { waitSeconds } of waits) waitsHistogram.observe(waitSeconds);
        ledgerCursor = waits.at(-1)?.seq ?? ledgerCursor;
      });
    return ledgerReads;
  };

  const load = async (): Promise<Snapshot> => {
    const read = <T>(work: () => Promise<T>) => withTimeout(work(), timeoutMs);
    const [queue, ops, outbox, ledger, drift] = await Promise.allSettled([
      sources.redisReady()
        ? read(() => sources.queue.getJobCounts(...QUEUE_STATES).then((c) => c as Record<string, number>))
        : Promise.reject(new Error("redis is not connected")),
      read(() => operationCounts(db)),
      read(() => outboxBacklog(db)),
      read(async () => {
        const backlog = await ledgerBacklog(db);
        await observeLedgerWaits();
        return backlog;
      }),
      read(() => latestDrift(db)),
    ]);
    const results = { queue, operations: ops, outbox, ledger, drift };
    const up = {} as Record<Collector, boolean>;
    for (const name of COLLECTORS) {
      const result = results[name];
      up[name] = result.status === "fulfilled";
      if (result.status === "rejected" && wasUp.get(name) !== false) {
        const reason: unknown = result.reason;
        sources.logger.warn(
          { collector: name, err: { message: reason instanceof Error ? reason.message : String(reason) } },
          "metrics collector failed",
        );
      }
      wasUp.set(name, up[name]);
    }
    const value = <T>(result: PromiseSettledResult<T>) =>
      result.status === "fulfilled" ? result.value : undefined;
    return {
      queue: value(queue),
      operations: value(ops),
      outbox: value(outbox),
      ledger: value(ledger),
      drift: value(drift),
      up,
    };
  };
  // prom-client calls every collect of one scrape synchronously: they all share the reads in flight.
  let inFlight: Promise<Snapshot> | undefined;
  const snapshot = () => {
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, s: Snapshot) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        fill(this, s);
      },
    });

  gauge(
    "keyferry_metrics_collector_up",
    "Whether the last scrape could read each source (1) or not (0)",
    ["collector"],
    (g, s) => {
      for (const name of COLLECTORS) g.set({ collector: name }, s.up[name] ? 1 : 0);
    },
  );
  gauge("keyferry_queue_jobs", "Jobs per BullMQ queue and state", ["queue", "state"], (g, s) => {
    for (const [state, n] of Object.entries(s.queue ?? {})) g.set({ queue: sources.queue.name, state }, n);
  });
  gauge("keyferry_operations", "Operations per type and state (PostgreSQL)", ["type", "state"], (g, s) => {
    if (!s.operations) return;
    for (const type of OPERATION_TYPES) for (const state of OPERATION_STATES) g.set({ type, state }, 0);
    for (const { type, state, count } of s.operations) g.set({ type, state }, count);
  });
  gauge("keyferry_outbox_rows", "Accepted operations not yet handed to the queue", [], (g, s) => {
    g.set(s.outbox?.rows ?? 0);
  });
  gauge("keyferry_outbox_oldest_age_seconds", "Age of the oldest outbox row (0 when empty)", [], (g, s) => {
    g.set(s.outbox?.oldestAgeSeconds ?? 0);
  });
  gauge("keyferry_ledger_pending_entries", "Ledger events recorded but not hash-chained yet", [], (g, s) => {
    g.set(s.ledger?.rows ?? 0);
  });
  gauge(
    "keyferry_ledger_pending_oldest_age_seconds",
    "Age of the oldest ledger event not chained yet (0 when none)",
    [],
    (g, s) => {
      g.set(s.ledger?.oldestAgeSeconds ?? 0);
    },
  );
  gauge(
    "keyferry_drift_findings",
    "Findings per kind of the latest succeeded reconcile of each destination",
    ["kms", "kind"],
    (g, s) => {
      for (const found of s.drift ?? []) {
        for (const kind of DRIFT_KINDS) g.set({ kms: found.kms, kind }, found.counts[kind]);
      }
    },
  );
  gauge(
    "keyferry_drift_last_reconcile_timestamp_seconds",
    "When the latest succeeded reconcile of each destination finished",
    ["kms"],
    (g, s) => {
      for (const found of s.drift ?? [])
        if (found.finishedAt !== null) g.set({ kms: found.kms }, found.finishedAt);
    },
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

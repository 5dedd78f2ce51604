import { Queue } from "bullmq";
import type { Config } from "../config.js";
import { loadRootKeyRing } from "../custody/root-keys.js";
import { connectDatabase, type Database } from "../db/client.js";
import { startChainer } from "../ledger/chainer.js";
import type { Logger } from "../logger.js";
import { instrumentLimits } from "../metrics/limits.js";
import { chainPassObserver, createMetrics, type Metrics } from "../metrics/metrics.js";
import { operationRunObserver } from "../metrics/operation-runs.js";
import { instrumentProviders } from "../metrics/providers.js";
import { type MetricsServer, startMetricsServer } from "../metrics/server.js";
import type { EngineDependencies, RunOperation } from "../operations/engine.js";
import { runOperation as defaultRunOperation } from "../operations/run.js";
import { createProviderRegistry } from "../providers/registry.js";
import { createDestinationLimits } from "../queue/limits.js";
import { OPERATIONS_QUEUE, type OperationJobData, queuePrefix } from "../queue/names.js";
import { type Relay, startRelay } from "../queue/relay.js";
import { startSchedules } from "../queue/schedules.js";
import { startSweeper } from "../queue/sweeper.js";
import { createWaker } from "../queue/wake.js";
import { startOperationsWorker, type WorkerSettings } from "../queue/worker.js";
import { connectRedis, type Redis } from "../redis.js";
import { databaseErrorLogger, migrateWhenReady } from "./startup.js";

export interface RunningWorker {
  relay: Relay;
  /** Where this process serves its own metrics (KEYFERRY_WORKER_METRICS_PORT), when it does. */
  metricsUrl: string | undefined;
  stop(): Promise<void>;
}

export interface WorkerProcessOptions {
  /** The engine; src/operations/run.ts when absent. */
  runOperation?: RunOperation;
  worker?: Partial<WorkerSettings>;
  /** How long a run's lease on its operation lasts unless renewed (crash tests shorten it). */
  runLeaseMs?: number;
  /** The sweeper's grace and interval (tests shorten them; the defaults suit production). */
  sweeper?: { graceMs?: number; intervalMs?: number };
  /** A registry shared with the API of the same process (the dev stack): then no metrics port of its own. */
  metrics?: Metrics;
}

/**
 * Composition root of the worker process: the outbox relay, the sweeper, the ledger chainer and the BullMQ
 * operations worker, with every dependency made here and passed down.
 */
export async function startWorkerProcess(
  config: Config,
  logger: Logger,
  options: WorkerProcessOptions = {},
): Promise<RunningWorker> {
  const runOperation = options.runOperation ?? defaultRunOperation;
  const metrics = options.metrics ?? createMetrics();
  await migrateWhenReady(config, logger);
  const database = connectDatabase(config.databaseUrl, {
    applicationName: "keyferry-worker",
    timeouts: config.database,
    onConnectionError: databaseErrorLogger(logger),
  });
  // First, so that a port already taken stops the start before anything runs.
  const metricsServer = await serveMetrics(config, options, metrics, database.db, logger).catch(
    async (err: unknown) => {
      await database.close();
      throw err;
    },
  );
  const connections: Redis[] = [];
  const connection = (name: string) => () => {
    const redis = connectRedis(config.redisUrl, `keyferry-worker-${name}`);
    redis.on("error", (err) =>
      logger.warn({ err: { message: err.message }, connection: name }, "redis error"),
    );
    connections.push(redis);
    return redis;
  };
  const ring = await loadRootKeyRing(config);
  const providers = instrumentProviders(
    createProviderRegistry(logger.child({ component: "providers" })),
    metrics,
  );
  const limits = createDestinationLimits(connection("limits")(), config.redisPrefix, {
    worker: config.worker,
  });
  const relay = startRelay({
    db: database.db,
    connection: connection("relay")(),
    redisPrefix: config.redisPrefix,
    logger: logger.child({ component: "outbox-relay" }),
  });
  const sweeperRedis = connection("sweeper")();
  const queue = new Queue<OperationJobData>(OPERATIONS_QUEUE, {
    connection: sweeperRedis,
    prefix: queuePrefix(config.redisPrefix),
  });
  queue.on("error", () => {});
  const engine: EngineDependencies = {
    db: database.db,
    ring,
    providers,
    limits: instrumentLimits(limits, metrics),
    logger: logger.child({ component: "engine" }),
    nudge: () => relay.nudge(),
    wake: createWaker(queue, logger.child({ component: "waker" })),
    bulkWindow: config.worker.kmsConcurrency,
    ...(options.runLeaseMs ? { runLeaseMs: options.runLeaseMs } : {}),
  };

  const sweeper = startSweeper({
    db: database.db,
    queue,
    redis: sweeperRedis,
    logger: logger.child({ component: "queue-sweeper" }),
    onEnqueued: () => relay.nudge(),
    ...options.sweeper,
  });
  const schedules = await startSchedules({
    db: database.db,
    connection: connection("schedules"),
    redisPrefix: config.redisPrefix,
    logger: logger.child({ component: "schedules" }),
    tickMs: config.schedules.tickMs,
    reconcileIntervalSeconds: config.schedules.reconcileIntervalSeconds,
    onAccepted: () => relay.nudge(),
  });
  const chainer = startChainer(
    database.db,
    logger.child({ component: "ledger-chainer" }),
    undefined,
    chainPassObserver(metrics),
  );
  const worker = startOperationsWorker({
    config,
    connection: connection("worker"),
    runOperation,
    engine,
    logger: logger.child({ component: "operations-worker" }),
    onRun: operationRunObserver(database.db, metrics, logger.child({ component: "metrics" })),
    ...(options.worker ? { settings: options.worker } : {}),
  });
  logger.info(
    { concurrency: config.worker.concurrency, metrics: metricsServer?.url },
    "keyferry worker started",
  );

  return {
    relay,
    metricsUrl: metricsServer?.url,
    async stop() {
      await worker.stop();
      await schedules.stop();
      await Promise.all([relay.stop(), sweeper.stop(), chainer.stop()]);
      limits.stop();
      await queue.close();
      providers.close();
      for (const redis of connections) redis.disconnect();
      await metricsServer?.close();
      await database.close();
    },
  };
}

/** The worker's own `GET /metrics`, unless its registry is the API's (dev stack) or no port is set. */
async function serveMetrics(
  config: Config,
  options: WorkerProcessOptions,
  metrics: Metrics,
  db: Database,
  logger: Logger,
): Promise<MetricsServer | undefined> {
  if (options.metrics || config.metrics.workerPort === undefined) return undefined;
  return startMetricsServer({
    host: config.host,
    port: config.metrics.workerPort,
    metrics,
    access: config.metrics.public ? { public: true } : { public: false, db, adminToken: config.adminToken },
    logger: logger.child({ component: "metrics" }),
  });
}

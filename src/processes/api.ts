import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../api/app.js";
import type { Config } from "../config.js";
import { loadRootKeyRing } from "../custody/root-keys.js";
import { connectDatabase } from "../db/client.js";
import { startChainer } from "../ledger/chainer.js";
import type { Logger } from "../logger.js";
import { chainPassObserver, createMetrics, type Metrics } from "../metrics/metrics.js";
import { registerStoreCollectors } from "../metrics/store-collectors.js";
import { createProviderRegistry } from "../providers/registry.js";
import { OPERATIONS_QUEUE, type OperationJobData, queuePrefix } from "../queue/names.js";
import { queueStats } from "../queue/queue-stats.js";
import { startRelay } from "../queue/relay.js";
import { connectRedis, evictionCheck } from "../redis.js";
import { databaseErrorLogger, migrateWhenReady, reportEvictionPolicy } from "./startup.js";

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

export interface ApiOptions {
  /** A registry shared with a worker of the same process (the dev stack); a new one when absent. */
  metrics?: Metrics;
}

/** Composition root of the API process: every dependency is made here and passed down. */
export async function startApi(
  config: Config,
  logger: Logger,
  options: ApiOptions = {},
): Promise<RunningApi> {
  const metrics = options.metrics ?? createMetrics();
  await migrateWhenReady(config, logger);
  const database = connectDatabase(config.databaseUrl, {
    applicationName: "keyferry-api",
    timeouts: config.database,
    onConnectionError: databaseErrorLogger(logger),
  });
  const redis = connectRedis(config.redisUrl, "keyferry-api");
  redis.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));
  const chainer = startChainer(
    database.db,
    logger.child({ component: "ledger-chainer" }),
    undefined,
    chainPassObserver(metrics),
  );
  const ring = await loadRootKeyRing(config);
  // Intake calls only checkSupport, which makes no SDK client; the registry is cheap to hold.
  const providers = createProviderRegistry(logger.child({ component: "providers" }));
  // A relay here too, so that an accepted operation reaches the queue at once (nudged after each commit);
  // relays share the outbox with SKIP LOCKED, so the workers' relays and this one never collide.
  const relayConnection = connectRedis(config.redisUrl, "keyferry-api-relay");
  relayConnection.on("error", () => {});
  const relay = startRelay({
    db: database.db,
    connection: relayConnection,
    redisPrefix: config.redisPrefix,
    logger: logger.child({ component: "outbox-relay" }),
  });
  const statsQueue = new Queue<OperationJobData>(OPERATIONS_QUEUE, {
    connection: redis,
    prefix: queuePrefix(config.redisPrefix),
  });
  statsQueue.on("error", () => {});
  // Shared state (queue, operations, outbox, ledger, drift) is reported by the API only, read when scraped.
  registerStoreCollectors(metrics, {
    db: database.db,
    queue: statsQueue,
    redisReady: () => redis.status === "ready",
    logger: logger.child({ component: "metrics" }),
  });
  const app = buildApp({
    db: database.db,
    redis,
    logger,
    eviction: evictionCheck(redis, config.startup.redisEvictionCheck, (policy, mode) =>
      reportEvictionPolicy(logger, policy, mode),
    ),
    api: {
      ring,
      providers,
      adminToken: config.adminToken,
      queueStats: () => queueStats(statsQueue, redis, config.redisPrefix),
      nudge: () => relay.nudge(),
      boardQueues: [statsQueue],
      metrics: { metrics, public: config.metrics.public },
    },
  });
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url }, "keyferry api listening");

  return {
    app,
    url,
    async stop() {
      await app.close();
      await Promise.all([chainer.stop(), relay.stop()]);
      await statsQueue.close();
      providers.close();
      relayConnection.disconnect();
      redis.disconnect();
      await database.close();
    },
  };
}

/** Stop cleanly on SIGTERM/SIGINT, and hard after the grace period. */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, graceMs: number): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error({ graceMs }, "shutdown took too long; exiting");
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

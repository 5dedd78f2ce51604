import { Queue } from "bullmq";
import type { Config } from "../config.js";
import { loadRootKeyRing } from "../custody/root-keys.js";
import { connectDatabase } from "../db/client.js";
import { runMigrations } from "../db/migrate.js";
import { startChainer } from "../ledger/chainer.js";
import type { Logger } from "../logger.js";
import type { EngineDependencies, RunOperation } from "../operations/engine.js";
import { createProviderRegistry } from "../providers/registry.js";
import { createDestinationLimits } from "../queue/limits.js";
import { OPERATIONS_QUEUE, type OperationJobData, queuePrefix } from "../queue/names.js";
import { type Relay, startRelay } from "../queue/relay.js";
import { startSweeper } from "../queue/sweeper.js";
import { startOperationsWorker, type WorkerSettings } from "../queue/worker.js";
import { connectRedis, type Redis } from "../redis.js";

export interface RunningWorker {
  relay: Relay;
  stop(): Promise<void>;
}

export interface WorkerProcessOptions {
  /** The engine; src/operations/run.ts when absent. */
  runOperation?: RunOperation;
  worker?: Partial<WorkerSettings>;
}

// A specifier in a variable: the engine module is loaded only when the process starts.
const RUN_MODULE = "../operations/run.js";

async function loadRunOperation(): Promise<RunOperation> {
  const module = (await import(RUN_MODULE)) as { runOperation?: RunOperation };
  if (typeof module.runOperation !== "function") throw new Error(`${RUN_MODULE} exports no runOperation`);
  return module.runOperation;
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
  const runOperation = options.runOperation ?? (await loadRunOperation());
  await runMigrations(config.databaseUrl);
  const database = connectDatabase(config.databaseUrl, { applicationName: "keyferry-worker" });
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
  const providers = createProviderRegistry(logger.child({ component: "providers" }));
  const limits = createDestinationLimits(connection("limits")(), config.redisPrefix, {
    worker: config.worker,
  });
  const engine: EngineDependencies = {
    db: database.db,
    ring,
    providers,
    limits,
    logger: logger.child({ component: "engine" }),
  };

  const relay = startRelay({
    db: database.db,
    connection: connection("relay")(),
    redisPrefix: config.redisPrefix,
    logger: logger.child({ component: "outbox-relay" }),
  });
  const queue = new Queue<OperationJobData>(OPERATIONS_QUEUE, {
    connection: connection("sweeper")(),
    prefix: queuePrefix(config.redisPrefix),
  });
  queue.on("error", () => {});
  const sweeper = startSweeper({
    db: database.db,
    queue,
    logger: logger.child({ component: "queue-sweeper" }),
    onEnqueued: () => relay.nudge(),
  });
  const chainer = startChainer(database.db, logger.child({ component: "ledger-chainer" }));
  const worker = startOperationsWorker({
    config,
    connection: connection("worker"),
    runOperation,
    engine,
    logger: logger.child({ component: "operations-worker" }),
    ...(options.worker ? { settings: options.worker } : {}),
  });
  logger.info({ concurrency: config.worker.concurrency }, "keyferry worker started");

  return {
    relay,
    async stop() {
      await worker.stop();
      await Promise.all([relay.stop(), sweeper.stop(), chainer.stop()]);
      limits.stop();
      await queue.close();
      providers.close();
      for (const redis of connections) redis.disconnect();
      await database.close();
    },
  };
}

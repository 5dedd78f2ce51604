import type { FastifyInstance } from "fastify";
import { buildApp } from "../api/app.js";
import type { Config } from "../config.js";
import { connectDatabase } from "../db/client.js";
import { runMigrations } from "../db/migrate.js";
import { startChainer } from "../ledger/chainer.js";
import type { Logger } from "../logger.js";
import { connectRedis } from "../redis.js";

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** Composition root of the API process: every dependency is made here and passed down. */
export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  await runMigrations(config.databaseUrl);
  const database = connectDatabase(config.databaseUrl, { applicationName: "keyferry-api" });
  const redis = connectRedis(config.redisUrl, "keyferry-api");
  redis.on("error", (err) => logger.warn({ err: { message: err.message } }, "redis connection error"));
  const chainer = startChainer(database.db, logger.child({ component: "ledger-chainer" }));
  const app = buildApp({ db: database.db, redis, logger });
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ url }, "keyferry api listening");

  return {
    app,
    url,
    async stop() {
      await app.close();
      await chainer.stop();
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

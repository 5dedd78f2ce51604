import { Redis } from "ioredis";
import pg from "pg";
import { equalJitterDelay } from "../backoff.js";
import { type Config, redactUrl } from "../config.js";
import { isBackingServiceDown } from "../db/errors.js";
import { runMigrations } from "../db/migrate.js";
import type { Logger } from "../logger.js";
import { evictionPolicy } from "../redis.js";

/** The first waits are short (a service restarting), then every 5 s; a log line every 30 s at most. */
const BACKOFF = { baseMs: 250, maxMs: 5_000 };
const LOG_EVERY_MS = 30_000;

export class StartupTimeoutError extends Error {
  override name = "StartupTimeoutError";
}

async function postgresAnswers(config: Config): Promise<void> {
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    connectionTimeoutMillis: config.database.connectMs,
    query_timeout: config.database.connectMs,
    application_name: "keyferry-startup",
  });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
  } finally {
    await client.end().catch(() => {});
  }
}

async function redisAnswers(config: Config): Promise<string> {
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: config.database.connectMs,
    connectionName: "keyferry-startup",
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
    return await evictionPolicy(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * Wait until PostgreSQL and Redis answer, with backoff, up to `config.startup.waitMs` (a process started
 * during an outage, or before its services in a compose file, comes up when they do). Reports Redis's
 * eviction policy once it answers: anything but `noeviction` loses jobs under memory pressure.
 */
export async function waitForServices(config: Config, logger: Logger): Promise<void> {
  const deadline = Date.now() + config.startup.waitMs;
  const services: Array<[string, string, () => Promise<unknown>]> = [
    ["postgres", redactUrl(config.databaseUrl), () => postgresAnswers(config)],
    [
      "redis",
      redactUrl(config.redisUrl),
      async () => {
        const policy = await redisAnswers(config);
        reportEvictionPolicy(logger, policy, config.startup.redisEvictionCheck);
      },
    ],
  ];
  for (const [service, where, probe] of services) {
    let attempt = 0;
    let loggedAt = 0;
    for (;;) {
      try {
        await probe();
        if (attempt > 0) logger.info({ service }, `${service} answers; starting`);
        break;
      } catch (error) {
        attempt += 1;
        const reason = error instanceof Error ? error.message : String(error);
        if (Date.now() >= deadline) {
          throw new StartupTimeoutError(
            `${service} at ${where} did not answer within ${config.startup.waitMs} ms (KEYFERRY_STARTUP_WAIT_MS): ${reason}`,
          );
        }
        if (Date.now() - loggedAt >= LOG_EVERY_MS) {
          loggedAt = Date.now();
          logger.warn({ service, where, reason, attempt }, `waiting for ${service} to answer`);
        }
        const wait = equalJitterDelay(attempt, BACKOFF.baseMs, BACKOFF.maxMs);
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(wait, Math.max(deadline - Date.now(), 0))),
        );
      }
    }
  }
}

export function reportEvictionPolicy(logger: Logger, policy: string, mode: "strict" | "warn"): void {
  if (policy === "noeviction") return;
  if (policy === "unknown") {
    logger.warn(
      "redis maxmemory-policy could not be read (CONFIG refused?): make sure it is noeviction, or jobs may be lost",
    );
    return;
  }
  const message = `redis maxmemory-policy is ${policy}: evictions drop jobs and locks; set noeviction`;
  if (mode === "strict") logger.error({ policy }, `${message} (/readyz reports not ready)`);
  else logger.warn({ policy }, message);
}

/**
 * `waitForServices`, then the migrations, tried again while PostgreSQL goes away in between (a restart
 * during start-up), up to the same bound.
 */
export async function migrateWhenReady(config: Config, logger: Logger): Promise<void> {
  const deadline = Date.now() + config.startup.waitMs;
  for (let attempt = 1; ; attempt++) {
    await waitForServices(
      { ...config, startup: { ...config.startup, waitMs: Math.max(deadline - Date.now(), 0) } },
      logger,
    );
    try {
      await runMigrations(config.databaseUrl);
      return;
    } catch (error) {
      if (!isBackingServiceDown(error) || Date.now() >= deadline) throw error;
      logger.warn(
        { attempt, reason: (error as Error).message },
        "migrations interrupted: PostgreSQL went away; waiting",
      );
    }
  }
}

/** The pool's connection errors, logged at most once every 10 s (an outage makes one per connection). */
export function databaseErrorLogger(logger: Logger): (error: Error) => void {
  let loggedAt = 0;
  let suppressed = 0;
  return (error) => {
    if (Date.now() - loggedAt < 10_000) {
      suppressed += 1;
      return;
    }
    loggedAt = Date.now();
    const code = (error as { code?: unknown }).code;
    logger.warn(
      { err: { message: error.message, ...(typeof code === "string" ? { code } : {}) }, suppressed },
      "postgres connection error",
    );
    suppressed = 0;
  };
}

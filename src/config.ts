import { z } from "zod";
import type { DatabaseTimeouts } from "./db/client.js";

/**
 * keyferry's whole configuration, read once from the environment (SPEC section 10) and passed down.
 * Nothing else reads `process.env`. Secrets have no defaults: the dev stack (`keyferry start`) makes its
 * own before calling `loadConfig`.
 */

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const urlWithProtocols = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}` },
  );

const envSchema = z.object({
  DATABASE_URL: urlWithProtocols(["postgres:", "postgresql:"]),
  REDIS_URL: urlWithProtocols(["redis:", "rediss:"]).default("redis://127.0.0.1:6379"),
  KEYFERRY_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:{}_-]{1,64}$/, "may hold letters, digits, ':', '_', '-' and a {hash tag}")
    .default("{keyferry}"),
  KEYFERRY_ROOT_KEY: z.string().min(1).optional(),
  KEYFERRY_ROOT_KEY_FILE: z.string().min(1).optional(),
  KEYFERRY_PREVIOUS_ROOT_KEYS: z.string().min(1).optional(),
  KEYFERRY_ADMIN_TOKEN: z.string().min(32, "must be at least 32 characters").optional(),
  KEYFERRY_HOST: z.string().min(1).default("127.0.0.1"),
  KEYFERRY_PORT: intFromEnv(0, 65535).default(8080),
  LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  KEYFERRY_WORKER_CONCURRENCY: intFromEnv(1, 1000).default(16),
  KEYFERRY_KMS_CONCURRENCY: intFromEnv(1, 1000).default(8),
  KEYFERRY_RATE_LIMIT_SCALE: z.coerce.number().positive().max(1000).default(1),
  KEYFERRY_SHUTDOWN_GRACE_MS: intFromEnv(0, 600_000).default(30_000),
  KEYFERRY_SCHEDULE_TICK_MS: intFromEnv(100, 3_600_000).default(30_000),
  KEYFERRY_RECONCILE_INTERVAL_SECONDS: intFromEnv(0, 365 * 86_400).default(86_400),
  KEYFERRY_METRICS_PUBLIC: z
    .enum(["true", "false"], { message: 'must be "true" or "false"' })
    .default("false"),
  KEYFERRY_WORKER_METRICS_PORT: intFromEnv(0, 65535).optional(),
  KEYFERRY_PG_CONNECT_TIMEOUT_MS: intFromEnv(100, 600_000).default(2_000),
  KEYFERRY_PG_STATEMENT_TIMEOUT_MS: intFromEnv(100, 3_600_000).default(15_000),
  KEYFERRY_PG_LOCK_TIMEOUT_MS: intFromEnv(10, 3_600_000).default(5_000),
  KEYFERRY_PG_IDLE_TX_TIMEOUT_MS: intFromEnv(1_000, 3_600_000).default(60_000),
  KEYFERRY_STARTUP_WAIT_MS: intFromEnv(0, 24 * 3_600_000).default(300_000),
  KEYFERRY_REDIS_EVICTION_CHECK: z
    .enum(["strict", "warn"], { message: 'must be "strict" or "warn"' })
    .default("strict"),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Exactly one of `rootKey` (base64) and `rootKeyFile` is set. */
  rootKey: { base64: string } | { file: string };
  /** Root keys that may still have sealed something, kept while `keyferry root-key reseal` runs. */
  previousRootKeys: string[];
  adminToken: string | undefined;
  host: string;
  port: number;
  logLevel: LogLevel;
  worker: { concurrency: number; kmsConcurrency: number; rateLimitScale: number; shutdownGraceMs: number };
  /**
   * Scheduled work (src/queue/schedules.ts): how often the workers look for due rotations and drift checks, and
   * how often each destination is checked for drift by default (0: only on request; `options.reconcileIntervalSeconds`
   * of a destination overrides it).
   */
  schedules: { tickMs: number; reconcileIntervalSeconds: number };
  /** `GET /metrics` needs no token when `public`; a worker serves its own on `workerPort` when set. */
  metrics: { public: boolean; workerPort: number | undefined };
  /** Bounds on every wait for PostgreSQL (src/db/client.ts). */
  database: DatabaseTimeouts;
  /**
   * How long a process waits at start for PostgreSQL and Redis to answer (with backoff) before it gives up,
   * and what a Redis eviction policy other than `noeviction` does: `strict` makes `/readyz` not ready,
   * `warn` only logs (for managed Redis that hides CONFIG or cannot change it).
   */
  startup: { waitMs: number; redisEvictionCheck: "strict" | "warn" };
}

/** One message per bad variable; never contains a variable's value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  // Empty strings are what shells and compose files leave for "unset".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? "environment");
      const message =
        issue.code === "invalid_type" && present[variable] === undefined ? "is required" : issue.message;
      problems.push(`${variable}: ${message}`);
    }
  }
  const root = { base64: present.KEYFERRY_ROOT_KEY, file: present.KEYFERRY_ROOT_KEY_FILE };
  if (root.base64 && root.file) {
    problems.push("KEYFERRY_ROOT_KEY and KEYFERRY_ROOT_KEY_FILE: set only one of them");
  } else if (!root.base64 && !root.file) {
    problems.push("KEYFERRY_ROOT_KEY or KEYFERRY_ROOT_KEY_FILE: one of them is required");
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.KEYFERRY_REDIS_PREFIX,
    rootKey: root.base64 ? { base64: root.base64 } : { file: root.file as string },
    previousRootKeys: (e.KEYFERRY_PREVIOUS_ROOT_KEYS ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter((k) => k.length > 0),
    adminToken: e.KEYFERRY_ADMIN_TOKEN,
    host: e.KEYFERRY_HOST,
    port: e.KEYFERRY_PORT,
    logLevel: e.LOG_LEVEL,
    worker: {
      concurrency: e.KEYFERRY_WORKER_CONCURRENCY,
      kmsConcurrency: e.KEYFERRY_KMS_CONCURRENCY,
      rateLimitScale: e.KEYFERRY_RATE_LIMIT_SCALE,
      shutdownGraceMs: e.KEYFERRY_SHUTDOWN_GRACE_MS,
    },
    schedules: {
      tickMs: e.KEYFERRY_SCHEDULE_TICK_MS,
      reconcileIntervalSeconds: e.KEYFERRY_RECONCILE_INTERVAL_SECONDS,
    },
    metrics: { public: e.KEYFERRY_METRICS_PUBLIC === "true", workerPort: e.KEYFERRY_WORKER_METRICS_PORT },
    database: {
      connectMs: e.KEYFERRY_PG_CONNECT_TIMEOUT_MS,
      statementMs: e.KEYFERRY_PG_STATEMENT_TIMEOUT_MS,
      lockMs: e.KEYFERRY_PG_LOCK_TIMEOUT_MS,
      idleInTransactionMs: e.KEYFERRY_PG_IDLE_TX_TIMEOUT_MS,
    },
    startup: { waitMs: e.KEYFERRY_STARTUP_WAIT_MS, redisEvictionCheck: e.KEYFERRY_REDIS_EVICTION_CHECK },
  };
}

/** A URL with its password replaced, for log lines and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable url>";
  }
}

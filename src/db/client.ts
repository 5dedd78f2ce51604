import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { BROKEN_CONNECTION_CODE, isBackingServiceDown } from "./errors.js";
import * as schema from "./schema/index.js";

export type Database = NodePgDatabase<typeof schema>;
/** A transaction handle; query functions accept either a `Database` or a `Transaction`. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];
export type Queryable = Database | Transaction;

export interface DatabaseHandle {
  db: Database;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * Bounds on every wait for PostgreSQL, so that an outage or a frozen server turns into an error within a
 * known time instead of a request that hangs (KEYFERRY_PG_* in src/config.ts).
 */
export interface DatabaseTimeouts {
  /** Opening a connection (TCP and the start-up exchange). */
  connectMs: number;
  /** One statement on the server (`statement_timeout`); the client gives up `QUERY_MARGIN_MS` later. */
  statementMs: number;
  /** Waiting for a row or advisory lock (`lock_timeout`). */
  lockMs: number;
  /** A transaction left open without a statement (`idle_in_transaction_session_timeout`). */
  idleInTransactionMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = {
  connectMs: 2_000,
  statementMs: 15_000,
  lockMs: 5_000,
  idleInTransactionMs: 60_000,
};

/** How much longer than `statement_timeout` the client waits for an answer (a frozen server gives none). */
export const QUERY_MARGIN_MS = 500;

/** Told about connection-level errors (not statement errors), for a log line; must not throw. */
export type ConnectionErrorListener = (error: Error) => void;

export function connectDatabase(
  url: string,
  options: {
    max?: number;
    applicationName?: string;
    timeouts?: Partial<DatabaseTimeouts>;
    onConnectionError?: ConnectionErrorListener;
  } = {},
): DatabaseHandle {
  const timeouts = { ...DEFAULT_DATABASE_TIMEOUTS, ...options.timeouts };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "keyferry",
    connectionTimeoutMillis: timeouts.connectMs,
    statement_timeout: timeouts.statementMs,
    lock_timeout: timeouts.lockMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    query_timeout: timeouts.statementMs + QUERY_MARGIN_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  guardConnections(pool, options.onConnectionError ?? (() => {}));
  return { db: drizzle(pool, { schema }), pool, close: () => pool.end() };
}

/**
 * No lost connection may crash the process or be handed out again:
 * - every client gets its own `error` listener (pg-pool listens only while a client is idle, so a server
 *   restart during a transaction would otherwise be an unhandled `error` event);
 * - a client whose connection broke (an error event, a socket error, a query that timed out on a frozen
 *   server) answers further queries at once with an error instead of queueing them behind the dead one
 *   (drizzle sends ROLLBACK after a failed statement), and is destroyed, not pooled, when released.
 */
function guardConnections(pool: pg.Pool, onError: ConnectionErrorListener): void {
  const broken = new WeakSet<pg.PoolClient>();
  pool.on("error", (error) => onError(error));
  pool.on("connect", (client) => {
    client.on("error", (error) => {
      broken.add(client as pg.PoolClient);
      onError(error);
    });
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      if (broken.has(client as pg.PoolClient)) {
        const error = Object.assign(new Error("the database connection was lost"), {
          code: BROKEN_CONNECTION_CODE,
        });
        const callback = args.find((a) => typeof a === "function") as ((e: Error) => void) | undefined;
        if (callback) {
          process.nextTick(() => callback(error));
          return undefined;
        }
        return Promise.reject(error);
      }
      const result = query(...args);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if (isBackingServiceDown(error)) broken.add(client as pg.PoolClient);
        });
      }
      return result;
    };
  });
  // Checked-out clients (transactions) are released by drizzle without an error: destroy broken ones.
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { connect: unknown }).connect = (...args: unknown[]) => {
    if (args.length > 0) return connect(...args); // pool.query's own checkout releases with its error
    return (connect() as Promise<pg.PoolClient>).then((client) => {
      const release = client.release.bind(client);
      client.release = (error?: Error | boolean) =>
        release(error ?? (broken.has(client) ? new Error("connection lost") : undefined));
      return client;
    });
  };
}

export { schema };

/**
 * What a failure of PostgreSQL (or Redis) looks like to the drivers, so that callers can tell "the database
 * is not there right now" (wait and try again; answer 503) from a real error. Codes first; pg gives a few
 * connection failures no code, so its exact messages for them are listed too.
 */

// Node's socket errors.
const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);
/**
 * SQLSTATEs of a server going away or refusing work for now: admin/crash shutdown, cannot connect now
 * (starting up, recovery), too many connections, read-only during a failover (25006), and class 08.
 */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "25006"]);
/** pg and pg-pool raise these without a code. */
const PG_CONNECTION_MESSAGES = [
  "Connection terminated unexpectedly",
  "Connection terminated",
  "Connection terminated due to connection timeout",
  "timeout exceeded when trying to connect",
  "Query read timeout",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];

/** Raised by a client that already lost its connection (src/db/client.ts), instead of waiting on it. */
export const BROKEN_CONNECTION_CODE = "KF_BROKEN_CONNECTION";

export function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function messageOf(error: unknown): string | undefined {
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" ? message : undefined;
}

/** PostgreSQL or Redis unreachable, restarting, frozen or refusing connections. */
export function isBackingServiceDown(error: unknown): boolean {
  return causes(error).some((e) => {
    if (e === null || typeof e !== "object") return false;
    const code = codeOf(e);
    if (code !== undefined) {
      if (
        code === BROKEN_CONNECTION_CODE ||
        CONNECTION_ERRNOS.has(code) ||
        UNAVAILABLE_SQLSTATES.has(code) ||
        /^08[0-9A-Z]{3}$/.test(code)
      ) {
        return true;
      }
    }
    const message = messageOf(e);
    return message !== undefined && PG_CONNECTION_MESSAGES.includes(message);
  });
}

/** The statement ran longer than `statement_timeout` (57014) or waited longer than `lock_timeout` (55P03). */
export function isDatabaseTimeout(error: unknown): boolean {
  return causes(error).some((e) => {
    const code = codeOf(e);
    return code === "57014" || code === "55P03";
  });
}

/** The SQLSTATE of a PostgreSQL error anywhere in the cause chain. */
export function sqlState(error: unknown): string | undefined {
  for (const e of causes(error)) {
    const code = codeOf(e);
    if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operations } from "../db/schema/index.js";
import type { Logger } from "../logger.js";

/**
 * One run of an operation at a time, whatever the queue does. A job can be handed out twice: Redis lost its
 * data and the sweeper made the job again while the first run was still going, or a stalled job was given
 * to another worker. The run that starts takes a lease on the operation row (`run_token`, renewed while it
 * runs); another run finds it held and waits; a run that lost its lease stops at its next step and writes no
 * final state. A crashed worker's lease simply expires.
 */
export const DEFAULT_RUN_LEASE_MS = 6_000;

/** The condition under which a run may take the lease: nobody holds it, or its holder stopped renewing. */
export const leaseFree = sql`(${operations.runToken} is null or ${operations.runExpiresAt} < now())`;

export function leaseUntil(leaseMs: number) {
  return sql`now() + make_interval(secs => ${leaseMs / 1000})`;
}

export interface HeldLease {
  /** Aborted when the lease is lost (or the run's own signal is). */
  signal: AbortSignal;
  /** Stop renewing and give the lease back (no-op when the run already ended the operation). */
  release(): Promise<void>;
}

/** A run that could not renew its lease stops this long before the lease may have run out in PostgreSQL. */
const EXPIRY_MARGIN = 0.1;

/**
 * Keep the lease `token` renewed every third of `leaseMs` until released. A run whose renewals fail (the
 * database is away or slow) stops by itself before its lease may have run out, so that it has stopped before
 * another run can take the operation: two runs of one operation never overlap.
 */
export function holdLease(
  db: Database,
  operationId: string,
  token: string,
  leaseMs: number,
  logger: Logger,
  outer: AbortSignal | undefined,
): HeldLease {
  const lost = new AbortController();
  let expiry: NodeJS.Timeout | undefined;
  /** The lease runs until `leaseMs` after `confirmedAt` (when the last renewal that held was sent). */
  const armExpiry = (confirmedAt: number) => {
    if (expiry) clearTimeout(expiry);
    const left = confirmedAt + leaseMs * (1 - EXPIRY_MARGIN) - Date.now();
    expiry = setTimeout(
      () => {
        if (lost.signal.aborted) return;
        logger.warn({ operationId, leaseMs }, "run lease not renewed in time: stopping before it expires");
        lost.abort(new Error("run lease expired"));
      },
      Math.max(0, left),
    );
    expiry.unref();
  };
  armExpiry(Date.now());
  const renew = async () => {
    const sentAt = Date.now();
    const renewed = await db
      .update(operations)
      .set({ runExpiresAt: leaseUntil(leaseMs) })
      .where(and(eq(operations.id, operationId), eq(operations.runToken, token)))
      .returning({ id: operations.id });
    if (renewed.length > 0) {
      if (!lost.signal.aborted) armExpiry(sentAt);
      return;
    }
    if (!lost.signal.aborted) {
      logger.warn({ operationId }, "run lease lost: another run holds the operation; stopping");
      lost.abort(new Error("run lease lost"));
    }
  };
  const timer = setInterval(() => {
    renew().catch((err: unknown) => logger.warn({ err }, "run lease not renewed"));
  }, leaseMs / 3);
  timer.unref();
  return {
    signal: outer ? AbortSignal.any([outer, lost.signal]) : lost.signal,
    async release() {
      clearInterval(timer);
      if (expiry) clearTimeout(expiry);
      await db
        .update(operations)
        .set({ runToken: null, runExpiresAt: null })
        .where(and(eq(operations.id, operationId), eq(operations.runToken, token)));
    },
  };
}

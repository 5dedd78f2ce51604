import type { Queryable } from "../../db/client.js";
import { type VerifyResult, verifyLedger } from "../../ledger/verify.js";

/** The last chain verification an API process ran, with when it ran and how long it took. */
export type CachedVerification =
  | (VerifyResult & { checkedAt: string; durationMs: number })
  | { ok: null; checkedAt: string; durationMs: number; error: string };

export interface LedgerVerificationCache {
  /**
   * The last result (null before the first one finished). Starts a new verification in the background
   * when the last one is older than `maxAgeMs` and none is running: a caller never waits for one.
   */
  latest(): CachedVerification | null;
  /** Resolves when the verification running now (if any) has finished: for shutdown and tests. */
  settled(): Promise<void>;
}

/**
 * Verifying the chain reads every entry, so a dashboard that polls every second must not do it on every
 * poll: each API process verifies at most once per `maxAgeMs`, one run at a time, and polls read the
 * cached answer with its time. The `GET /v1/ledger/verify` route still verifies on demand.
 */
export function createLedgerVerificationCache(
  db: Queryable,
  options: { maxAgeMs: number; now?: () => number },
): LedgerVerificationCache {
  const now = options.now ?? Date.now;
  let last: CachedVerification | null = null;
  let lastStartedAt = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | null = null;

  const run = async (): Promise<void> => {
    const started = now();
    try {
      const result = await verifyLedger(db);
      last = { ...result, checkedAt: new Date(started).toISOString(), durationMs: now() - started };
    } catch {
      // The database is unreachable or the query failed: say so, keep no detail (it may name hosts).
      last = {
        ok: null,
        checkedAt: new Date(started).toISOString(),
        durationMs: now() - started,
        error: "verification could not run (database unavailable?)",
      };
    }
  };

  return {
    latest() {
      if (running === null && now() - lastStartedAt >= options.maxAgeMs) {
        lastStartedAt = now();
        running = run().finally(() => {
          running = null;
        });
      }
      return last;
    },
    async settled() {
      await running;
    },
  };
}

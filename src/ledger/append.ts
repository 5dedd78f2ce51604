import type { Queryable } from "../db/client.js";
import { ledgerPending } from "../db/schema/index.js";

export interface LedgerEvent {
  event: string;
  operationId?: string | null;
  keyName?: string | null;
  kmsName?: string | null;
  /** Who caused it: a token name, "worker", "system". */
  actor?: string | null;
  /** Facts about the event: ids, states, remote ids, fingerprints. Never key material or credentials. */
  data?: Record<string, unknown>;
}

/**
 * Record events inside the caller's transaction, so they commit (or roll back) with the change they describe.
 * No lock is taken: the chainer gives them their place in the hash chain afterwards.
 */
export async function appendToLedger(
  db: Queryable,
  events: LedgerEvent | readonly LedgerEvent[],
): Promise<void> {
  const list = Array.isArray(events) ? events : [events as LedgerEvent];
  if (list.length === 0) return;
  // Millisecond precision: the chain hashes the timestamp as JavaScript reads it back.
  const recordedAt = new Date();
  await db.insert(ledgerPending).values(
    list.map((e) => ({
      recordedAt,
      event: e.event,
      operationId: e.operationId ?? null,
      keyName: e.keyName ?? null,
      kmsName: e.kmsName ?? null,
      actor: e.actor ?? null,
      data: e.data ?? {},
    })),
  );
}

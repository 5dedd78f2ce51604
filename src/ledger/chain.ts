import { asc, desc, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { ledgerEntries, ledgerPending } from "../db/schema/index.js";
import { entryHash, GENESIS_HASH } from "./hash.js";

/** Names the transaction-level advisory lock that admits one chainer at a time. */
const CHAIN_LOCK_ID = 0x6b66_6c63; // "kflc"

/**
 * Move up to `batchSize` committed pending events into the hash chain, in the order they were recorded.
 * Returns how many were chained; 0 when there was nothing to do or another process holds the chain.
 * Any number of processes may call this: the lock makes the others return at once instead of waiting.
 */
export async function chainPending(db: Database, batchSize = 500): Promise<number> {
  return db.transaction(async (tx) => {
    const lock = await tx.execute<{ locked: boolean }>(
      sql`SELECT pg_try_advisory_xact_lock(${CHAIN_LOCK_ID}) AS locked`,
    );
    if (!lock.rows[0]?.locked) return 0;

    const pending = await tx.select().from(ledgerPending).orderBy(asc(ledgerPending.id)).limit(batchSize);
    if (pending.length === 0) return 0;

    const [head] = await tx
      .select({ seq: ledgerEntries.seq, hash: ledgerEntries.hash })
      .from(ledgerEntries)
      .orderBy(desc(ledgerEntries.seq))
      .limit(1);
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;

    const rows = pending.map((p) => {
      seq += 1;
      const fields = {
        seq,
        recordedAt: p.recordedAt,
        event: p.event,
        operationId: p.operationId,
        keyName: p.keyName,
        kmsName: p.kmsName,
        actor: p.actor,
        data: p.data,
      };
      const hash = entryHash(prevHash, fields);
      const row = { ...fields, prevHash, hash };
      prevHash = hash;
      return row;
    });
    await tx.insert(ledgerEntries).values(rows);
    await tx.delete(ledgerPending).where(
      inArray(
        ledgerPending.id,
        pending.map((p) => p.id),
      ),
    );
    return rows.length;
  });
}

/** Chain until nothing is pending (or another process holds the chain). */
export async function chainAll(db: Database, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await chainPending(db, batchSize);
    total += n;
    if (n < batchSize) return total;
  }
}

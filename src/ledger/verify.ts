import { asc, gt } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { ledgerEntries } from "../db/schema/index.js";
import { entryHash, GENESIS_HASH } from "./hash.js";

export type VerifyResult =
  | { ok: true; entries: number; head: string | null }
  | { ok: false; entries: number; firstBadSeq: number; reason: string };

/** A (seq, hash) pair seen earlier and kept elsewhere (a log line, a metric, a ticket). */
export interface LedgerAnchor {
  seq: number;
  hash: string;
}

/**
 * Recompute the whole chain in pages and name the first entry that does not match: a changed field, a
 * changed or missing predecessor (a gap in `seq`), or a `prevHash` that is not the previous entry's hash.
 * A chain alone cannot show that its newest entries were cut off and re-written; anchors (heads published
 * earlier) can: each must still be in the chain with the same hash.
 */
export async function verifyLedger(
  db: Queryable,
  options: { pageSize?: number; anchors?: readonly LedgerAnchor[] } = {},
): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 1000;
  const anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash.toLowerCase()]));
  let expectedSeq = 1;
  let prevHash: Buffer = GENESIS_HASH;
  let entries = 0;
  for (;;) {
    const page = await db
      .select()
      .from(ledgerEntries)
      .where(gt(ledgerEntries.seq, expectedSeq - 1))
      .orderBy(asc(ledgerEntries.seq))
      .limit(pageSize);
    for (const entry of page) {
      const bad = (reason: string): VerifyResult => ({ ok: false, entries, firstBadSeq: entry.seq, reason });
      if (entry.seq !== expectedSeq)
        return { ok: false, entries, firstBadSeq: expectedSeq, reason: "missing entry" };
      if (!entry.prevHash.equals(prevHash)) return bad("prev_hash does not match the previous entry");
      if (!entryHash(prevHash, entry).equals(entry.hash))
        return bad("hash does not match the entry's contents");
      const anchored = anchors.get(entry.seq);
      if (anchored !== undefined && anchored !== entry.hash.toString("hex"))
        return bad("differs from an anchor");
      anchors.delete(entry.seq);
      prevHash = entry.hash;
      expectedSeq += 1;
      entries += 1;
    }
    if (page.length < pageSize) break;
  }
  const [missing] = [...anchors.keys()].sort((a, b) => a - b);
  if (missing !== undefined)
    return { ok: false, entries, firstBadSeq: missing, reason: "anchored entry is missing" };
  return { ok: true, entries, head: entries === 0 ? null : prevHash.toString("hex") };
}

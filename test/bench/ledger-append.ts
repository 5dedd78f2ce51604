import { desc, sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.js";
import { ledgerEntries } from "../../src/db/schema/index.js";
import { appendToLedger } from "../../src/ledger/append.js";
import { chainAll } from "../../src/ledger/chain.js";
import { entryHash, GENESIS_HASH } from "../../src/ledger/hash.js";
import { type Comparison, compare, measure } from "./measure.js";

/**
 * keyferry's staged ledger (append in the writer's transaction, chain in batches afterwards) against the
 * obvious alternative: every writer takes one global lock, reads the head and inserts the next entry.
 * Writers are concurrent transactions that each record one event, as workers finishing steps do.
 */
export async function benchLedgerAppend(
  db: Database,
  writers: number,
  perWriter: number,
): Promise<Comparison> {
  const total = writers * perWriter;
  const event = (w: number, i: number) => ({ event: "step.succeeded", data: { w, i, step: "import" } });

  const staged = await measure("staged append + batch chain", total, async () => {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) await db.transaction((tx) => appendToLedger(tx, event(w, i)));
      }),
    );
    await chainAll(db);
  });

  const locked = await measure("global lock per append", total, async () => {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          await db.transaction(async (tx) => {
            await tx.execute(sql`SELECT pg_advisory_xact_lock(42)`);
            const [head] = await tx.select().from(ledgerEntries).orderBy(desc(ledgerEntries.seq)).limit(1);
            const fields = {
              seq: (head?.seq ?? 0) + 1,
              recordedAt: new Date(),
              operationId: null,
              keyName: null,
              kmsName: null,
              actor: null,
              ...event(w, i),
            };
            const prevHash = head?.hash ?? GENESIS_HASH;
            await tx.insert(ledgerEntries).values({ ...fields, prevHash, hash: entryHash(prevHash, fields) });
          });
        }
      }),
    );
  });
  return compare(`ledger append (${writers} writers)`, staged, locked);
}

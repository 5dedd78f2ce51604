import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { bytea } from "./columns.js";

/**
 * The ledger is written in two stages so that writers never queue on one lock:
 * 1. a writer inserts into `ledger_pending` inside its own transaction (no global lock, commits with the
 *    change it records);
 * 2. the chainer (one at a time, any process) moves committed pending rows into `ledger_entries` in
 *    batches, giving each the next `seq` and `hash = SHA-256(prevHash || canonical entry)`.
 * `ledger_entries` is append-only: a migration installs triggers that refuse UPDATE, DELETE and TRUNCATE.
 * No foreign keys: the ledger outlives the rows it speaks of.
 */
const entryColumns = () => ({
  recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "date" }).notNull(),
  event: text("event").notNull(),
  operationId: uuid("operation_id"),
  keyName: text("key_name"),
  kmsName: text("kms_name"),
  actor: text("actor"),
  data: jsonb("data").$type<Record<string, unknown>>().notNull(),
});

export const ledgerPending = pgTable("ledger_pending", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  ...entryColumns(),
});

export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    seq: bigint("seq", { mode: "number" }).primaryKey(),
    ...entryColumns(),
    prevHash: bytea("prev_hash").notNull(),
    hash: bytea("hash").notNull(),
    chainedAt: timestamp("chained_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("ledger_entries_operation").on(t.operationId, t.seq),
    index("ledger_entries_key").on(t.keyName, t.seq),
    index("ledger_entries_kms").on(t.kmsName, t.seq),
    check("ledger_entries_seq_positive", sql`${t.seq} >= 1`),
    check(
      "ledger_entries_hash_length",
      sql`octet_length(${t.hash}) = 32 and octet_length(${t.prevHash}) = 32`,
    ),
  ],
);

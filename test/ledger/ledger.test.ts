import { asc, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ledgerEntries, ledgerPending } from "../../src/db/schema/index.js";
import { appendToLedger } from "../../src/ledger/append.js";
import { chainAll, chainPending } from "../../src/ledger/chain.js";
import { canonicalJson } from "../../src/ledger/hash.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { useTestDatabase } from "../helpers/database.js";

const database = useTestDatabase();

describe("ledger", () => {
  it("canonical JSON sorts keys at every depth and refuses non-JSON values", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/finite/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/JSON value/);
  });

  it("chains appended events in order and verifies them", async () => {
    const { db } = database();
    await appendToLedger(db, {
      event: "operation.accepted",
      keyName: "k1",
      actor: "test",
      data: { b: 2, a: 1 },
    });
    await appendToLedger(db, [
      { event: "step.started", keyName: "k1", data: { step: "generate", attempt: 1 } },
      { event: "step.succeeded", keyName: "k1", data: { step: "generate", nested: { z: [1, 2], y: "x" } } },
    ]);
    expect(await chainAll(db)).toBe(3);
    expect(await db.$count(ledgerPending)).toBe(0);
    const entries = await db.select().from(ledgerEntries).orderBy(asc(ledgerEntries.seq));
    expect(entries.map((e) => [e.seq, e.event])).toEqual([
      [1, "operation.accepted"],
      [2, "step.started"],
      [3, "step.succeeded"],
    ]);
    expect(entries[1]?.prevHash.equals(entries[0]?.hash ?? Buffer.alloc(0))).toBe(true);
    const result = await verifyLedger(db);
    expect(result).toEqual({ ok: true, entries: 3, head: entries[2]?.hash.toString("hex") });
  });

  it("an event written in a transaction that rolls back never reaches the ledger", async () => {
    const { db } = database();
    const before = await db.$count(ledgerEntries);
    await db
      .transaction(async (tx) => {
        await appendToLedger(tx, { event: "operation.accepted", keyName: "ghost" });
        throw new Error("roll back");
      })
      .catch(() => {});
    await chainAll(db);
    expect(await db.$count(ledgerEntries)).toBe(before);
  });

  it("the database refuses UPDATE, DELETE and TRUNCATE of entries", async () => {
    const { db } = database();
    await appendToLedger(db, { event: "x" });
    await chainAll(db);
    for (const [statement, op] of [
      [sql`UPDATE ledger_entries SET event = 'y'`, "UPDATE"],
      [sql`DELETE FROM ledger_entries`, "DELETE"],
      [sql`TRUNCATE ledger_entries`, "TRUNCATE"],
    ] as const) {
      const error = await db.execute(statement).then(
        () => undefined,
        (e: unknown) => e,
      );
      // drizzle wraps the driver's error; the database's own refusal is the cause.
      expect((error as { cause?: { message?: string; code?: string } }).cause).toMatchObject({
        message: `ledger_entries is append-only: ${op} refused`,
        code: "42501",
      });
    }
    expect((await verifyLedger(db)).ok).toBe(true);
  });

  it("concurrent writers and chainers produce one gapless chain holding every event once", async () => {
    const { db } = database();
    const before = await db.$count(ledgerEntries);
    const writers = Array.from({ length: 8 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 25; i++) {
          await db.transaction((tx) => appendToLedger(tx, { event: "load", data: { w, i } }));
          if (i % 5 === 0) await chainPending(db, 7);
        }
      })(),
    );
    await Promise.all(writers);
    await chainAll(db);
    const loads = await db.select().from(ledgerEntries).where(sql`${ledgerEntries.event} = 'load'`);
    expect(loads).toHaveLength(200);
    expect(new Set(loads.map((e) => `${e.data.w}/${e.data.i}`)).size).toBe(200);
    expect(await db.$count(ledgerEntries)).toBe(before + 200);
    expect(await verifyLedger(db, { pageSize: 37 })).toMatchObject({ ok: true, entries: before + 200 });
  });

  it("verification names the first entry that was changed behind the triggers' back", async () => {
    const { db } = database();
    await appendToLedger(db, [{ event: "a" }, { event: "b" }, { event: "c" }]);
    await chainAll(db);
    const total = await db.$count(ledgerEntries);
    const target = total - 1;
    const [head] = await db.select().from(ledgerEntries).where(sql`${ledgerEntries.seq} = ${total}`);
    const anchor = { seq: total, hash: head?.hash.toString("hex") ?? "" };
    // A superuser can switch the triggers off; the chain must still give the change away.
    await db.transaction(async (tx) => {
      await tx.execute(sql`ALTER TABLE ledger_entries DISABLE TRIGGER USER`);
      await tx.execute(sql`UPDATE ledger_entries SET data = '{"forged":true}' WHERE seq = ${target}`);
      await tx.execute(sql`ALTER TABLE ledger_entries ENABLE TRIGGER USER`);
    });
    expect(await verifyLedger(db)).toMatchObject({ ok: false, firstBadSeq: target, reason: /contents/ });

    await db.transaction(async (tx) => {
      await tx.execute(sql`ALTER TABLE ledger_entries DISABLE TRIGGER USER`);
      await tx.execute(sql`DELETE FROM ledger_entries WHERE seq >= ${target - 1}`);
      await tx.execute(sql`ALTER TABLE ledger_entries ENABLE TRIGGER USER`);
    });
    // Cut off the newest entries: the rest is a consistent chain, only an anchor gives the cut away.
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
    expect(await verifyLedger(db, { anchors: [anchor] })).toMatchObject({ ok: false, firstBadSeq: total });
    await appendToLedger(db, [
      { event: "re-written 1" },
      { event: "re-written 2" },
      { event: "re-written 3" },
    ]);
    await chainAll(db);
    expect(await verifyLedger(db, { anchors: [anchor] })).toMatchObject({
      ok: false,
      firstBadSeq: total,
      reason: /anchor/,
    });
  });
});

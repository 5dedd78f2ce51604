import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerPending, operations } from "../../src/db/schema/index.js";
import { runOperation } from "../../src/operations/run.js";
import { useTestDatabase } from "../helpers/database.js";
import { AWS_KMS, accept, acceptCreate, type Engine, runToEnd, startEngine } from "./helpers.js";

/**
 * The queue may hand one operation to two runs at once (Redis lost the job while it ran and the sweeper
 * made it again; a stalled job went to another worker). The run lease lets one of them run: the other waits,
 * and the operation succeeds once, with one remote copy.
 */
const database = useTestDatabase();
let engine: Engine;

beforeAll(async () => {
  engine = await startEngine(database().db);
}, 60_000);
afterAll(async () => {
  await engine?.close();
});

describe("run lease", () => {
  it("lets one of two simultaneous runs of an operation run it; the other waits", async () => {
    const { db } = database();
    const created = await acceptCreate(db, "leased", "ecdsa-p256");
    await runToEnd(engine.deps, created.operationId);
    const id = await accept(
      db,
      "distribute",
      { id: created.keyId, name: "leased" },
      {
        kms: { id: engine.kmsIds.aws, name: AWS_KMS },
        input: { purposes: ["sign", "verify"], protection: "hsm" },
      },
    );
    // Every cloud request is slow, so both runs are in flight together.
    engine.aws.faults.configure({ latencyMs: { min: 50, max: 80 } });
    const outcomes = await Promise.all([runOperation(engine.deps, id, 1), runOperation(engine.deps, id, 1)]);
    engine.aws.faults.reset();
    expect(outcomes.map((o) => o.kind).sort()).toEqual(["blocked", "finished"]);
    expect(outcomes.find((o) => o.kind === "finished")).toEqual({ kind: "finished", state: "succeeded" });

    const [row] = await db.select().from(operations).where(eq(operations.id, id));
    expect(row).toMatchObject({ state: "succeeded", attempts: 1, runToken: null });
    const succeeded = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(ledgerPending)
      .where(and(eq(ledgerPending.operationId, id), eq(ledgerPending.event, "operation.succeeded")));
    expect(succeeded[0]?.n).toBe(1);
    // The waiting run, asked again, finds the operation done.
    expect(await runOperation(engine.deps, id, 2)).toEqual({ kind: "finished", state: "succeeded" });
  }, 60_000);

  it("takes over a run whose holder stopped renewing its lease", async () => {
    const { db } = database();
    const created = await acceptCreate(db, "orphaned", "ecdsa-p256");
    // A worker took the lease and died: it expired a second ago.
    await db
      .update(operations)
      .set({
        state: "running",
        runToken: crypto.randomUUID(),
        runExpiresAt: sql`now() - interval '1 second'`,
      })
      .where(eq(operations.id, created.operationId));
    expect(await runOperation(engine.deps, created.operationId, 1)).toEqual({
      kind: "finished",
      state: "succeeded",
    });
  }, 60_000);
});

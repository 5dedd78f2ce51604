import { Writable } from "node:stream";
import { KMSClient } from "@aws-sdk/client-kms";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { distributions, keys, operations } from "../../src/db/schema/index.js";
import { chainAll } from "../../src/ledger/chain.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { createLogger } from "../../src/logger.js";
import { MAX_RUNS, runOperation } from "../../src/operations/run.js";
import { useTestDatabase } from "../helpers/database.js";
import { until } from "../helpers/worker-process.js";
import { keysTagged, liveKeysByVersion } from "../providers/aws-kms/helpers.js";
import { keyNames, vaultClient, versionsOf } from "../providers/azure-key-vault/helpers.js";
import {
  AWS_KMS,
  AZURE_KMS,
  accept,
  acceptCreate,
  type Engine,
  operationRow,
  runToEnd,
  startEngine,
  stepsOf,
} from "./helpers.js";

/** Serialization per key, resumption after a lost answer, permanent refusals. */
const database = useTestDatabase();
let engine: Engine;
let aws: KMSClient;

beforeAll(async () => {
  engine = await startEngine(database().db);
  aws = new KMSClient({
    endpoint: engine.aws.url,
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" },
  });
}, 60_000);
afterAll(async () => {
  aws?.destroy();
  await engine?.close();
});

const awsDest = () => ({ id: engine.kmsIds.aws, name: AWS_KMS });
const azureDest = () => ({ id: engine.kmsIds.azure, name: AZURE_KMS });

async function createKey(name: string, type: Parameters<typeof acceptCreate>[2], deletionAllowed = false) {
  const { keyId, operationId } = await acceptCreate(database().db, name, type, { deletionAllowed });
  expect(await runToEnd(engine.deps, operationId)).toMatchObject({ state: "succeeded" });
  return { id: keyId, name };
}

describe("operations engine: failures and ordering", () => {
  it("operations on one key run in the order they were accepted", async () => {
    const { db } = database();
    const { keyId, operationId: create } = await acceptCreate(db, "serial", "ecdsa-p256");
    const rotate = await accept(db, "rotate", { id: keyId, name: "serial" });
    expect(await runOperation(engine.deps, rotate, 1)).toMatchObject({ kind: "blocked" });
    expect((await operationRow(db, rotate)).state).toBe("queued");
    expect(await runOperation(engine.deps, create, 1)).toEqual({ kind: "finished", state: "succeeded" });
    expect(await runOperation(engine.deps, rotate, 2)).toEqual({ kind: "finished", state: "succeeded" });
    expect(await runOperation(engine.deps, rotate, 3)).toEqual({ kind: "finished", state: "succeeded" });
    const [key] = await db.select().from(keys).where(eq(keys.id, keyId));
    expect(key?.latestVersion).toBe(2);
  });

  it("an operation that ends wakes the next of its key, in the order given at intake", async () => {
    const { db } = database();
    const woken: string[][] = [];
    const deps = { ...engine.deps, wake: async (ids: readonly string[]) => void woken.push([...ids]) };
    const { keyId, operationId: create } = await acceptCreate(db, "wakes", "ecdsa-p256");
    const first = await accept(db, "rotate", { id: keyId, name: "wakes" });
    const second = await accept(db, "rotate", { id: keyId, name: "wakes" });
    const seqs = await db
      .select({ id: operations.id, keySeq: operations.keySeq })
      .from(operations)
      .where(eq(operations.keyId, keyId));
    const seqOf = (id: string) => seqs.find((row) => row.id === id)?.keySeq;
    expect([seqOf(create), seqOf(first), seqOf(second)]).toEqual([1, 2, 3]);
    expect(await runOperation(deps, second, 1)).toMatchObject({ kind: "blocked" });
    expect(await runOperation(deps, create, 1)).toEqual({ kind: "finished", state: "succeeded" });
    await until(async () => woken.length > 0, "the next operation to be woken", 5_000);
    // Only the next one: the one after it still waits for it.
    expect(woken).toEqual([[first]]);
    expect(await runOperation(deps, second, 2)).toMatchObject({ kind: "blocked" });
    expect(await runOperation(deps, first, 1)).toEqual({ kind: "finished", state: "succeeded" });
    await until(async () => woken.length > 1, "the last operation to be woken", 5_000);
    expect(woken[1]).toEqual([second]);
  });

  it("an unexpected error is logged once where it happens, with its class, message, stack and operation id", async () => {
    const { db } = database();
    const key = await createKey("diagnosed", "ecdsa-p256");
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      { level: "info" },
      new Writable({
        write: (chunk, _e, done) => {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    // A provider whose every call throws a plain TypeError: the bug no emulator fault produces.
    const broken = new Proxy(engine.deps.providers.get("awskms"), {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || property === "checkSupport") return value;
        return () => {
          throw new TypeError("cannot read properties of undefined (reading 'KeyId')");
        };
      },
    });
    const deps = { ...engine.deps, logger, providers: { ...engine.deps.providers, get: () => broken } };
    const distribute = await accept(db, "distribute", key, {
      kms: awsDest(),
      input: { purposes: ["sign", "verify"], protection: "hsm" },
    });
    // An internal error may be transient: the operation is run again later; the log tells what it was.
    expect(await runOperation(deps, distribute, 1)).toMatchObject({
      kind: "retry",
      reason: "internal_error: unexpected TypeError (see the worker's log)",
    });
    const logged = lines.filter(
      (line) => (line.cause as { type?: string } | undefined)?.type === "TypeError",
    );
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      operationId: distribute,
      cause: { type: "TypeError", message: "cannot read properties of undefined (reading 'KeyId')" },
    });
    expect(String((logged[0]?.cause as { stack?: string } | undefined)?.stack)).toContain("failures.test.ts");
  });

  it("an operation that never settles fails after MAX_RUNS runs instead of looping forever", async () => {
    const { db } = database();
    const { operationId } = await acceptCreate(db, "endless", "ecdsa-p256");
    await db.update(operations).set({ attempts: MAX_RUNS }).where(eq(operations.id, operationId));
    expect(await runOperation(engine.deps, operationId, MAX_RUNS + 1)).toEqual({
      kind: "finished",
      state: "failed",
    });
    expect((await operationRow(db, operationId)).error).toMatchObject({ code: "attempts_exhausted" });
  });

  it("AWS: a CreateKey whose answer is lost is retried, and the retry adopts the key (one per version)", async () => {
    const { db } = database();
    const key = await createKey("aws-resume", "ecdsa-p256");
    expect(await runToEnd(engine.deps, await accept(db, "rotate", key))).toMatchObject({
      state: "succeeded",
    });
    const op = await accept(db, "distribute", key, {
      kms: awsDest(),
      input: { purposes: ["sign", "verify"], protection: "hsm" },
    });
    engine.aws.faults.failAfterCommitNext(1, { operation: "CreateKey", mode: "drop" });
    const first = await runOperation(engine.deps, op, 1);
    expect(first).toMatchObject({ kind: "retry" });
    expect((await operationRow(db, op)).state).toBe("running");
    expect(await runOperation(engine.deps, op, 2)).toEqual({ kind: "finished", state: "succeeded" });
    expect(Object.fromEntries(await liveKeysByVersion(aws, key.name))).toEqual({ "1": 1, "2": 1 });
    const steps = await stepsOf(db, op);
    // The steps finished by the first attempt were not redone.
    expect(steps.map((s) => [s.name, s.attempts])).toEqual([
      [`check-support@${AWS_KMS}`, 1],
      [`prepare@${AWS_KMS}`, 1],
      [`distribute@${AWS_KMS}`, 2],
      [`verify@${AWS_KMS}`, 1],
    ]);
  });

  it("Azure: an importKey whose answer is lost is retried without a second Azure version", async () => {
    const { db } = database();
    const key = await createKey("azure-resume", "rsa-2048");
    const op = await accept(db, "distribute", key, {
      kms: azureDest(),
      input: { purposes: ["decrypt"], protection: "hsm" },
    });
    engine.azure.faults.failAfterCommitNext(1, { operation: "importKey", mode: "drop" });
    const outcomes = [await runOperation(engine.deps, op, 1)];
    expect(outcomes[0]).toMatchObject({ kind: "retry" });
    expect(await runOperation(engine.deps, op, 2)).toEqual({ kind: "finished", state: "succeeded" });
    const [distribution] = await db.select().from(distributions).where(eq(distributions.keyId, key.id));
    expect(await versionsOf(vaultClient(engine.azure.url), distribution?.remoteName ?? "")).toHaveLength(1);
  });

  it("a combination the cloud refuses fails at once, with a clear error and nothing created", async () => {
    const { db } = database();
    const key = await createKey("ec-encrypt", "ecdsa-p256");
    const op = await accept(db, "distribute", key, {
      kms: awsDest(),
      input: { purposes: ["encrypt", "decrypt"], protection: "hsm" },
    });
    expect(await runOperation(engine.deps, op, 1)).toEqual({ kind: "finished", state: "failed" });
    const row = await operationRow(db, op);
    expect(row.error?.code).toBeTruthy();
    expect(row.error?.message).toMatch(/encrypt/i);
    expect(await keysTagged(aws, key.name)).toEqual([]);
    expect(await db.select().from(distributions).where(eq(distributions.keyId, key.id))).toEqual([]);
    const [step] = await stepsOf(db, op);
    expect(step).toMatchObject({ name: `check-support@${AWS_KMS}`, state: "failed" });
    expect(step?.detail.error).toMatchObject({ kind: "permanent" });
  });

  it("delete is refused while the key is distributed or does not allow deletion", async () => {
    const { db } = database();
    const locked = await createKey("locked", "ecdsa-p256");
    const refused = await accept(db, "delete", locked);
    expect(await runToEnd(engine.deps, refused)).toEqual({ kind: "finished", state: "failed" });
    expect((await operationRow(db, refused)).error?.code).toBe("deletion_not_allowed");

    const key = await createKey("deletable", "rsa-2048", true);
    const azure = azureDest();
    const input = { purposes: ["decrypt"], protection: "software" };
    expect(
      await runToEnd(engine.deps, await accept(db, "distribute", key, { kms: azure, input })),
    ).toMatchObject({ state: "succeeded" });
    const whileDistributed = await accept(db, "delete", key);
    expect(await runToEnd(engine.deps, whileDistributed)).toEqual({ kind: "finished", state: "failed" });
    expect((await operationRow(db, whileDistributed)).error?.code).toBe("key_distributed");

    expect(await runToEnd(engine.deps, await accept(db, "remove", key, { kms: azure }))).toMatchObject({
      state: "succeeded",
    });
    expect(await keyNames(vaultClient(engine.azure.url))).not.toContain("deletable");
    expect(await runToEnd(engine.deps, await accept(db, "delete", key))).toMatchObject({
      state: "succeeded",
    });
    expect(await db.select().from(keys).where(eq(keys.id, key.id))).toEqual([]);
  });

  it("rotate: one destination failing neither stops the other nor makes it redo its step", async () => {
    const { db } = database();
    const key = await createKey("fan-out", "rsa-2048");
    const input = { purposes: ["decrypt"], protection: "hsm" };
    for (const kms of [awsDest(), azureDest()]) {
      expect(await runToEnd(engine.deps, await accept(db, "distribute", key, { kms, input }))).toMatchObject({
        state: "succeeded",
      });
    }
    const op = await accept(db, "rotate", key);
    engine.azure.faults.failAfterCommitNext(1, { operation: "importKey", mode: "drop" });
    expect(await runOperation(engine.deps, op, 1)).toMatchObject({ kind: "retry" });
    const states = async () =>
      Object.fromEntries((await stepsOf(db, op)).map((s) => [s.name, [s.state, s.attempts]]));
    expect(await states()).toEqual({
      generate: ["succeeded", 1],
      [`rotate@${AWS_KMS}`]: ["succeeded", 1],
      [`rotate@${AZURE_KMS}`]: ["failed", 1],
    });
    expect(await runOperation(engine.deps, op, 2)).toEqual({ kind: "finished", state: "succeeded" });
    expect(await states()).toEqual({
      generate: ["succeeded", 1],
      [`rotate@${AWS_KMS}`]: ["succeeded", 1],
      [`rotate@${AZURE_KMS}`]: ["succeeded", 2],
    });
    const [row] = await db.select().from(keys).where(eq(keys.id, key.id));
    expect(row?.latestVersion).toBe(2);
    const live = await db.select().from(distributions).where(eq(distributions.keyId, key.id));
    const azureName = live.find((d) => d.kmsId === engine.kmsIds.azure)?.remoteName ?? "";
    expect(await versionsOf(vaultClient(engine.azure.url), azureName)).toHaveLength(2);
    expect(Object.fromEntries(await liveKeysByVersion(aws, key.name))).toEqual({ "1": 1, "2": 1 });
  });

  it("the ledger holds every failure and still verifies", async () => {
    const { db } = database();
    await chainAll(db);
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
  });
});

import { Queue } from "bullmq";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationView } from "../../src/api/views.js";
import type { KeyType } from "../../src/crypto/key-types.js";
import { generateSealedVersion, insertKeyVersion } from "../../src/custody/key-versions.js";
import { distributions, keys, kms, operationSteps, operations } from "../../src/db/schema/index.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { runOperation } from "../../src/operations/run.js";
import { BULK_CHILD_PRIORITY } from "../../src/queue/job-options.js";
import { OPERATIONS_QUEUE } from "../../src/queue/names.js";
import { startRelay } from "../../src/queue/relay.js";
import { createTestApi, type TestApi } from "../api/harness.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { vaultClient } from "../providers/azure-key-vault/helpers.js";
import { AWS_KMS, AZURE_KMS, accept, type Engine, operationRow, runToEnd, startEngine } from "./helpers.js";

/**
 * Redistributions (issue 6) through the API and the engine: children per key × destination with the
 * purposes of the model copy, keys already held skipped, one Azure KEK for the whole run deleted at its
 * end, failed children reported per key and retried alone, cancel between children, and children queued
 * behind interactive work.
 */
const database = useTestDatabase();
const testRedis = useTestRedis();
let engine: Engine;
let api: TestApi;

beforeAll(async () => {
  engine = await startEngine(database().db, { azureManagedHsm: true });
  api = await createTestApi(database().db);
}, 60_000);
afterAll(async () => {
  await api?.close();
  await engine?.close();
});

const awsRef = () => ({ id: engine.kmsIds.aws, name: AWS_KMS });
const azureRef = () => ({ id: engine.kmsIds.azure, name: AZURE_KMS });

async function activeKey(name: string, type: KeyType) {
  const { db } = database();
  const [key] = await db.insert(keys).values({ name, type, state: "active", latestVersion: 1 }).returning();
  if (!key) throw new Error("no key");
  await insertKeyVersion(db, key.id, await generateSealedVersion(engine.deps.ring, { name, type }, 1));
  return key;
}

async function childrenOf(parentId: string) {
  const { db } = database();
  return db
    .select({
      id: operations.id,
      state: operations.state,
      keyId: operations.keyId,
      kmsId: operations.kmsId,
      input: operations.input,
      error: operations.error,
    })
    .from(operations)
    .where(eq(operations.parentId, parentId));
}

/** Run the parent as far as it goes (planning, then waiting), every child to its end, then the parent again. */
async function runRedistribution(parentId: string) {
  expect((await runOperation(engine.deps, parentId, 1)).kind).toBe("blocked");
  for (const child of await childrenOf(parentId)) {
    if (child.state === "queued") await runToEnd(engine.deps, child.id);
  }
  return runOperation(engine.deps, parentId, 2);
}

describe("POST /v1/redistributions", () => {
  it("refuses what it cannot do, clearly, and changes nothing", async () => {
    const { db } = database();
    const before = (await db.select({ id: operations.id }).from(operations)).length;
    const cases: Array<[unknown, number, string]> = [
      [{ to: "nowhere" }, 404, "not_found"],
      [{ to: AWS_KMS, from: AWS_KMS }, 422, "from_is_destination"],
      [{ to: AWS_KMS, keys: { names: ["no-such-key"] } }, 422, "keys_not_found"],
      [{ to: AWS_KMS, keys: { all: true, prefix: "x" } }, 400, "invalid_request"],
      [{ to: AWS_KMS, extra: 1 }, 400, "invalid_request"],
      [{ to: [] }, 400, "invalid_request"],
    ];
    for (const [body, status, code] of cases) {
      const answer = await api.call("POST", "/v1/redistributions", { body, token: api.tokens.operator });
      expect({ status: answer.statusCode, code: answer.json().error?.code }, JSON.stringify(body)).toEqual({
        status,
        code,
      });
    }
    const auditor = await api.call("POST", "/v1/redistributions", {
      body: { to: AWS_KMS },
      token: api.tokens.auditor,
    });
    expect(auditor.statusCode).toBe(403);
    expect((await db.select({ id: operations.id }).from(operations)).length).toBe(before);
  });

  it("mirrors an old destination: its keys, with their purposes, to the new one, skipping what is there", async () => {
    const { db } = database();
    const signing = await activeKey("dr-signing", "ecdsa-p256");
    const wrapping = await activeKey("dr-wrapping", "rsa-2048");
    const elsewhere = await activeKey("dr-elsewhere", "aes256-gcm96");
    for (const [key, purposes] of [
      [signing, ["sign", "verify"]],
      [wrapping, ["wrap", "unwrap"]],
    ] as const) {
      const id = await accept(db, "distribute", key, {
        kms: awsRef(),
        input: { purposes, protection: "hsm" },
      });
      expect(await runToEnd(engine.deps, id)).toEqual({ kind: "finished", state: "succeeded" });
    }
    // The RSA key is already in the new destination: only the signing key goes.
    const held = await accept(db, "distribute", wrapping, {
      kms: azureRef(),
      input: { purposes: ["wrap", "unwrap"], protection: "hsm" },
    });
    expect(await runToEnd(engine.deps, held)).toEqual({ kind: "finished", state: "succeeded" });

    const accepted = await api.call("POST", "/v1/redistributions", {
      body: { to: AZURE_KMS, from: AWS_KMS },
      token: api.tokens.operator,
    });
    expect(accepted.statusCode).toBe(202);
    const parentId = accepted.json().id as string;
    expect(await runRedistribution(parentId)).toEqual({ kind: "finished", state: "succeeded" });

    const children = await childrenOf(parentId);
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({
      keyId: signing.id,
      kmsId: engine.kmsIds.azure,
      state: "succeeded",
      input: { purposes: ["sign", "verify"], protection: "hsm" },
    });
    const view = await operationView(db, await operationRow(db, parentId));
    expect(view.progress).toEqual({ done: 1, failed: 0, total: 1 });
    expect(view.steps.find((s) => s.name === "plan")?.detail).toEqual({
      result: { children: 1, skipped: 1, to: [AZURE_KMS] },
    });
    // A key that was never in the old destination stayed out.
    const copies = await db
      .select({ keyId: distributions.keyId })
      .from(distributions)
      .where(eq(distributions.keyId, elsewhere.id));
    expect(copies).toEqual([]);
  }, 60_000);

  it("uses one Azure KEK for the whole run, deleted when the run ends", async () => {
    const { db } = database();
    const names = ["kek-a", "kek-b", "kek-c"];
    for (const name of names) await activeKey(name, "ecdsa-p384");
    const parent = await db.transaction((tx) =>
      acceptOperation(tx, {
        type: "redistribute",
        input: { to: [azureRef()], keys: { names } },
        actor: "test",
      }),
    );
    const createsBefore = engine.azure.quota.allowed.get("mhsm-create") ?? 0;
    expect(await runRedistribution(parent.id)).toEqual({ kind: "finished", state: "succeeded" });
    // Three imports and one KEK: four HSM creates (a KEK per key would have made six).
    expect((engine.azure.quota.allowed.get("mhsm-create") ?? 0) - createsBefore).toBe(4);
    const left: string[] = [];
    for await (const key of vaultClient(engine.azure.url).listPropertiesOfKeys()) {
      if (key.name.startsWith("kf-kek-")) left.push(key.name);
    }
    expect(left).toEqual([]);
    const steps = await db
      .select({ name: operationSteps.name, state: operationSteps.state })
      .from(operationSteps)
      .where(eq(operationSteps.operationId, parent.id));
    expect(steps.map((s) => s.name).sort()).toEqual(
      [`finish-batch@${AZURE_KMS}`, "plan", `prepare-batch@${AZURE_KMS}`].sort(),
    );
  }, 60_000);

  it("reports failed children per key, and retries only those", async () => {
    const { db } = database();
    // The destination is misconfigured (a vault, not a Managed HSM): AES keys are refused, EC keys go.
    await db.update(kms).set({ options: {} }).where(eq(kms.id, engine.kmsIds.azure));
    const aes = await activeKey("retry-aes", "aes256-gcm96");
    await activeKey("retry-ec", "ecdsa-p256");
    const answer = await api.call("POST", "/v1/redistributions", {
      body: { to: [AZURE_KMS], keys: { prefix: "retry-" } },
      token: api.tokens.operator,
    });
    const parentId = answer.json().id as string;
    expect(await runRedistribution(parentId)).toEqual({ kind: "finished", state: "failed" });
    const failedView = (await api.call("GET", `/v1/operations/${parentId}`)).json();
    expect(failedView).toMatchObject({
      state: "failed",
      error: { code: "children_failed" },
      progress: { done: 1, failed: 1, total: 2 },
    });
    const failures = (await api.call("GET", `/v1/operations?parent=${parentId}&state=failed`)).json().items;
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      key: "retry-aes",
      kms: AZURE_KMS,
      error: { code: expect.any(String) },
    });

    // Fixed, and retried: only the failed child runs again.
    await db
      .update(kms)
      .set({ options: { managedHsm: true } })
      .where(eq(kms.id, engine.kmsIds.azure));
    const succeededBefore = (await childrenOf(parentId)).find((c) => c.state === "succeeded");
    const retried = await api.call("POST", `/v1/operations/${parentId}/retry`, {
      token: api.tokens.operator,
    });
    expect(retried.statusCode).toBe(202);
    const children = await childrenOf(parentId);
    expect(children.find((c) => c.id === succeededBefore?.id)?.state).toBe("succeeded");
    expect(children.find((c) => c.keyId === aes.id)?.state).toBe("queued");
    expect(await runRedistribution(parentId)).toEqual({ kind: "finished", state: "succeeded" });
    const done = (await api.call("GET", `/v1/operations/${parentId}`)).json();
    expect(done).toMatchObject({ state: "succeeded", progress: { done: 2, failed: 0, total: 2 } });
    // The retried run's KEK was released again.
    for await (const key of vaultClient(engine.azure.url).listPropertiesOfKeys()) {
      expect(key.name.startsWith("kf-kek-")).toBe(false);
    }
  }, 60_000);

  it("stops between children when canceled, and ends canceled", async () => {
    const { db } = database();
    for (const name of ["cancel-1", "cancel-2", "cancel-3"]) await activeKey(name, "ecdsa-p256");
    const answer = await api.call("POST", "/v1/redistributions", {
      body: { to: [AWS_KMS], keys: { prefix: "cancel-" } },
      token: api.tokens.operator,
    });
    const parentId = answer.json().id as string;
    expect((await runOperation(engine.deps, parentId, 1)).kind).toBe("blocked");
    const [first] = await childrenOf(parentId);
    if (!first) throw new Error("no children");
    await runToEnd(engine.deps, first.id);

    const canceled = await api.call("POST", `/v1/operations/${parentId}/cancel`, {
      token: api.tokens.operator,
    });
    expect(canceled.statusCode).toBe(202);
    const children = await childrenOf(parentId);
    expect(children.filter((c) => c.state === "canceled")).toHaveLength(2);
    // A canceled child's job finds it final and does nothing.
    for (const child of children.filter((c) => c.state === "canceled")) {
      expect(await runOperation(engine.deps, child.id, 1)).toEqual({ kind: "finished", state: "canceled" });
    }
    expect(await runOperation(engine.deps, parentId, 2)).toEqual({ kind: "finished", state: "canceled" });
    expect((await operationRow(db, parentId)).state).toBe("canceled");
    const view = await operationView(db, await operationRow(db, parentId));
    expect(view.progress).toEqual({ done: 1, failed: 2, total: 3 });
  }, 60_000);

  it("queues children behind interactive operations (BullMQ priority)", async () => {
    const { db } = database();
    const { redis, prefix } = testRedis();
    const key = await activeKey("prio-key", "ecdsa-p256");
    const parent = await db.transaction((tx) =>
      acceptOperation(tx, { type: "redistribute", input: { to: [awsRef()] }, actor: "test" }),
    );
    const child = await db.transaction((tx) =>
      acceptOperation(tx, {
        type: "distribute",
        keyId: key.id,
        kmsId: engine.kmsIds.aws,
        parentId: parent.id,
        input: { purposes: ["sign"], protection: "hsm" },
        actor: "test",
      }),
    );
    const rotate = await accept(db, "rotate", key);
    const relay = startRelay({
      db,
      connection: redis.duplicate(),
      redisPrefix: prefix,
      logger: engine.deps.logger,
    });
    await relay.relayOnce();
    const queue = new Queue(OPERATIONS_QUEUE, { connection: redis.duplicate(), prefix });
    const [childJob, rotateJob, parentJob] = await Promise.all(
      [child.id, rotate, parent.id].map((id) => queue.getJob(id)),
    );
    expect(childJob?.opts.priority).toBe(BULK_CHILD_PRIORITY);
    expect(rotateJob?.opts.priority ?? 0).toBe(0);
    expect(parentJob?.opts.priority ?? 0).toBe(0);
    expect(await childJob?.getState()).toBe("prioritized");
    await relay.stop();
    await queue.close();
    await db.delete(operations).where(inArray(operations.id, [parent.id, rotate]));
  });
});

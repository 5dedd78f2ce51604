import { KMSClient } from "@aws-sdk/client-kms";
import { and, eq, ne, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../src/crypto/key-types.js";
import { distributions, distributionVersions, keys, ledgerEntries } from "../../src/db/schema/index.js";
import { chainAll } from "../../src/ledger/chain.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { useTestDatabase } from "../helpers/database.js";
import { liveKeysByVersion } from "../providers/aws-kms/helpers.js";
import { vaultClient, versionsOf } from "../providers/azure-key-vault/helpers.js";
import {
  AWS_KMS,
  AWS_SECRET,
  AZURE_KMS,
  accept,
  acceptCreate,
  type Engine,
  operationRow,
  runToEnd,
  startEngine,
  stepsOf,
} from "./helpers.js";

/**
 * The seed scenario through the engine alone: create → distribute → rotate (both clouds at once) →
 * minEnabledVersion 2 → remove → distribute again, for ECDSA and AES on AWS and RSA on Azure and AWS.
 */
const database = useTestDatabase();
let engine: Engine;

interface TestKey {
  id: string;
  name: string;
  type: KeyType;
}
const ec: TestKey = { id: "", name: "orders-signing", type: "ecdsa-p256" };
const aes: TestKey = { id: "", name: "orders-data", type: "aes256-gcm96" };
const rsa: TestKey = { id: "", name: "payments-rsa", type: "rsa-2048" };

beforeAll(async () => {
  engine = await startEngine(database().db);
}, 60_000);
afterAll(async () => {
  await engine?.close();
});

const awsDest = () => ({ id: engine.kmsIds.aws, name: AWS_KMS });
const azureDest = () => ({ id: engine.kmsIds.azure, name: AZURE_KMS });

async function run(id: string): Promise<void> {
  expect(await runToEnd(engine.deps, id)).toEqual({ kind: "finished", state: "succeeded" });
}

async function remoteVersions(key: TestKey, kmsId: string) {
  const { db } = database();
  const rows = await db
    .select({ version: distributionVersions.version, state: distributionVersions.state })
    .from(distributionVersions)
    .innerJoin(distributions, eq(distributions.id, distributionVersions.distributionId))
    .where(
      and(
        eq(distributions.keyId, key.id),
        eq(distributions.kmsId, kmsId),
        ne(distributions.state, "removed"),
      ),
    )
    .orderBy(distributionVersions.version);
  return Object.fromEntries(rows.map((r) => [r.version, r.state]));
}

async function liveDistributionOf(key: TestKey, kmsId: string) {
  const [row] = await database()
    .db.select()
    .from(distributions)
    .where(
      and(
        eq(distributions.keyId, key.id),
        eq(distributions.kmsId, kmsId),
        ne(distributions.state, "removed"),
      ),
    );
  return row;
}

describe("operations engine: the life of a key", () => {
  it("create generates version 1 and activates the key", async () => {
    const { db } = database();
    for (const key of [ec, aes, rsa]) {
      const { keyId, operationId } = await acceptCreate(db, key.name, key.type);
      key.id = keyId;
      await run(operationId);
      expect((await stepsOf(db, operationId)).map((s) => [s.name, s.state])).toEqual([
        ["generate", "succeeded"],
      ]);
    }
    const rows = await db.select().from(keys);
    expect(rows.every((k) => k.state === "active" && k.latestVersion === 1)).toBe(true);
  });

  it("distribute copies the key into each cloud, different keys in parallel", async () => {
    const { db } = database();
    const ops = await Promise.all([
      accept(db, "distribute", ec, {
        kms: awsDest(),
        input: { purposes: ["sign", "verify"], protection: "hsm" },
      }),
      accept(db, "distribute", aes, {
        kms: awsDest(),
        input: { purposes: ["encrypt", "decrypt"], protection: "hsm" },
      }),
      accept(db, "distribute", rsa, {
        kms: azureDest(),
        input: { purposes: ["decrypt"], protection: "hsm" },
      }),
    ]);
    await Promise.all(ops.map(run));
    await run(
      await accept(db, "distribute", rsa, {
        kms: awsDest(),
        input: { purposes: ["decrypt"], protection: "hsm" },
      }),
    );

    expect((await stepsOf(db, ops[0] ?? "")).map((s) => s.name)).toEqual([
      `check-support@${AWS_KMS}`,
      `prepare@${AWS_KMS}`,
      `distribute@${AWS_KMS}`,
      `verify@${AWS_KMS}`,
    ]);
    for (const [key, kmsId] of [
      [ec, engine.kmsIds.aws],
      [aes, engine.kmsIds.aws],
      [rsa, engine.kmsIds.azure],
      [rsa, engine.kmsIds.aws],
    ] as const) {
      expect((await liveDistributionOf(key, kmsId))?.state).toBe("active");
      expect(await remoteVersions(key, kmsId)).toEqual({ 1: "enabled" });
    }
    // Every cloud request went through the destination's shared rate limit.
    expect(engine.limits.calls.some(([k, op]) => k === AWS_KMS && op === "CreateKey")).toBe(true);
    expect(engine.limits.calls.some(([k, op]) => k === AZURE_KMS && op === "importKey")).toBe(true);
  });

  it("rotate makes version 2 here and in every destination at once", async () => {
    const { db } = database();
    for (const key of [ec, aes, rsa]) await run(await accept(db, "rotate", key));
    const [rotation] = await db
      .select({ id: sql<string>`id` })
      .from(sql`operations`)
      .where(sql`type = 'rotate' and key_id = ${rsa.id}`);
    const steps = await stepsOf(db, rotation?.id ?? "");
    expect(steps.map((s) => s.name).sort()).toEqual(
      ["generate", `rotate@${AWS_KMS}`, `rotate@${AZURE_KMS}`].sort(),
    );
    expect(steps.every((s) => s.state === "succeeded" && s.attempts === 1)).toBe(true);
    for (const [key, kmsId] of [
      [ec, engine.kmsIds.aws],
      [aes, engine.kmsIds.aws],
      [rsa, engine.kmsIds.azure],
      [rsa, engine.kmsIds.aws],
    ] as const) {
      expect(await remoteVersions(key, kmsId)).toEqual({ 1: "enabled", 2: "enabled" });
    }
    const azureName = (await liveDistributionOf(rsa, engine.kmsIds.azure))?.remoteName ?? "";
    expect(await versionsOf(vaultClient(engine.azure.url), azureName)).toHaveLength(2);
    const aws = new KMSClient({
      endpoint: engine.aws.url,
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" },
    });
    expect(Object.fromEntries(await liveKeysByVersion(aws, ec.name))).toEqual({ "1": 1, "2": 1 });
    aws.destroy();
  });

  it("update minEnabledVersion=2 disables version 1 in every destination", async () => {
    const { db } = database();
    for (const key of [ec, rsa])
      await run(await accept(db, "update", key, { input: { minEnabledVersion: 2 } }));
    expect(await remoteVersions(ec, engine.kmsIds.aws)).toEqual({ 1: "disabled", 2: "enabled" });
    expect(await remoteVersions(rsa, engine.kmsIds.azure)).toEqual({ 1: "disabled", 2: "enabled" });
    expect(await remoteVersions(rsa, engine.kmsIds.aws)).toEqual({ 1: "disabled", 2: "enabled" });
    const azureName = (await liveDistributionOf(rsa, engine.kmsIds.azure))?.remoteName ?? "";
    const enabled = (await versionsOf(vaultClient(engine.azure.url), azureName)).map((v) => v.enabled);
    expect(enabled.sort()).toEqual([false, true]);
  });

  it("remove takes the copy away and keeps the key; distribute brings it back with the enabled versions", async () => {
    const { db } = database();
    await run(await accept(db, "remove", rsa, { kms: azureDest() }));
    await run(await accept(db, "remove", ec, { kms: awsDest() }));
    expect(await liveDistributionOf(rsa, engine.kmsIds.azure)).toBeUndefined();
    expect(await liveDistributionOf(ec, engine.kmsIds.aws)).toBeUndefined();
    const [kept] = await db.select().from(keys).where(eq(keys.id, rsa.id));
    expect(kept).toMatchObject({ state: "active", latestVersion: 2 });

    await run(
      await accept(db, "distribute", rsa, {
        kms: azureDest(),
        input: { purposes: ["decrypt"], protection: "hsm" },
      }),
    );
    await run(
      await accept(db, "distribute", ec, {
        kms: awsDest(),
        input: { purposes: ["sign", "verify"], protection: "hsm" },
      }),
    );
    expect(await remoteVersions(rsa, engine.kmsIds.azure)).toEqual({ 2: "enabled" });
    expect(await remoteVersions(ec, engine.kmsIds.aws)).toEqual({ 2: "enabled" });
  });

  it("every step is in the ledger, the chain verifies, and no secret is recorded", async () => {
    const { db } = database();
    await chainAll(db);
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
    const entries = await db.select().from(ledgerEntries);
    const events = new Set(entries.map((e) => e.event));
    for (const event of ["operation.started", "step.started", "step.succeeded", "operation.succeeded"]) {
      expect(events).toContain(event);
    }
    const started = entries.filter((e) => e.event === "step.started").length;
    const succeeded = entries.filter((e) => e.event === "step.succeeded").length;
    expect(succeeded).toBe(started);
    const recorded =
      JSON.stringify(entries.map((e) => e.data)) +
      JSON.stringify(await db.execute(sql`select detail from operation_steps`));
    expect(recorded).not.toContain(AWS_SECRET);
    const ops = await db.execute<{ state: string }>(sql`select state from operations`);
    expect(new Set(ops.rows.map((r) => r.state))).toEqual(new Set(["succeeded"]));
    expect((await operationRow(db, entries[0]?.operationId ?? "")).state).toBe("succeeded");
  });
});

import { randomBytes } from "node:crypto";
import { KMSClient } from "@aws-sdk/client-kms";
import type { KeyClient } from "@azure/keyvault-keys";
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationView } from "../../src/api/views.js";
import type { KeyType } from "../../src/crypto/key-types.js";
import { parseRootKey } from "../../src/crypto/root-key.js";
import { generateSealedVersion, insertKeyVersion } from "../../src/custody/key-versions.js";
import { keys, kms, ledgerEntries, operations } from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { chainAll } from "../../src/ledger/chain.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { useTestDatabase } from "../helpers/database.js";
import { type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.js";
import { awsKeysByVersion, azureVersionsByVersion } from "../helpers/remote-inventory.js";
import {
  spawnWorkerProcess,
  stopWorkerProcess,
  until,
  type WorkerProcess,
} from "../helpers/worker-process.js";
import { vaultClient } from "../providers/azure-key-vault/helpers.js";

/**
 * Issue 6: 500 keys of mixed types redistributed to two emulated destinations (1,000 children) by real
 * worker processes, while one worker is SIGKILLed and Redis is restarted empty in the middle. In the end every
 * child has succeeded exactly once, each cloud holds exactly one copy per key and version, the run's KEK is
 * gone, progress reaches its total, and the ledger verifies.
 */
const database = useTestDatabase();
const ROOT_KEY = randomBytes(32).toString("base64");
const AWS_KMS = "aws-dr";
const AZURE_KMS = "azure-dr";
const REGION = "eu-central-1";
const KEY_COUNT = 500;
const MIX: ReadonlyArray<[KeyType, number]> = [
  ["aes256-gcm96", 330],
  ["ecdsa-p256", 110],
  ["ecdsa-p384", 40],
  ["rsa-2048", 20],
];

let redis: PrivateRedis | undefined;
let aws: RunningEmulator | undefined;
let azure: RunningEmulator | undefined;
let awsClient: KMSClient | undefined;
let vault: KeyClient | undefined;
const workers: WorkerProcess[] = [];

function spawnWorker(): WorkerProcess {
  if (!redis) throw new Error("redis not started");
  const worker = spawnWorkerProcess({
    DATABASE_URL: database().url,
    REDIS_URL: redis.url,
    KEYFERRY_REDIS_PREFIX: "{kf_chaos}",
    KEYFERRY_ROOT_KEY: ROOT_KEY,
    KEYFERRY_SHUTDOWN_GRACE_MS: "5000",
    TEST_SWEEP_MS: "2000",
    // The emulators apply no quotas here: pacing at the real ones (AWS imports at 1/s) would take 10 minutes.
    KEYFERRY_RATE_LIMIT_SCALE: "100",
  });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  [aws, azure] = await Promise.all([
    startAwsKmsEmulator({ reuseWrappingKeys: true }),
    startAzureKeyVaultEmulator({ managedHsm: true }),
  ]);
  awsClient = new KMSClient({
    endpoint: aws.url,
    region: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret" },
  });
  vault = vaultClient(azure.url);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorkerProcess(w, "SIGKILL")));
  awsClient?.destroy();
  await Promise.all([aws?.close(), azure?.close(), redis?.stop()]);
});

async function seedKeys(): Promise<void> {
  const { db } = database();
  const root = parseRootKey(ROOT_KEY);
  const ring = { current: root, all: [root] };
  const types = MIX.flatMap(([type, count]) => Array.from({ length: count }, () => type));
  expect(types).toHaveLength(KEY_COUNT);
  const rows = types.map((type, i) => ({ name: `dr-${String(i).padStart(3, "0")}-${type}`, type }));
  // Generation on the threadpool, a few at a time (RSA takes a while).
  for (let i = 0; i < rows.length; i += 25) {
    const slice = rows.slice(i, i + 25);
    const sealed = await Promise.all(slice.map((row) => generateSealedVersion(ring, row, 1)));
    await db.transaction(async (tx) => {
      for (const [j, row] of slice.entries()) {
        const [key] = await tx
          .insert(keys)
          .values({ name: row.name, type: row.type, state: "active", latestVersion: 1 })
          .returning({ id: keys.id });
        const version = sealed[j];
        if (!key || !version) throw new Error("seeding failed");
        await insertKeyVersion(tx, key.id, version);
      }
    });
  }
}

async function childStates(parentId: string) {
  const { db } = database();
  const rows = await db
    .select({ state: operations.state, count: sql<number>`count(*)::int` })
    .from(operations)
    .where(eq(operations.parentId, parentId))
    .groupBy(operations.state);
  return Object.fromEntries(rows.map((r) => [r.state, r.count])) as Record<string, number>;
}

describe("a 500-key redistribution to two clouds", () => {
  it("survives a SIGKILLed worker and a Redis restart, doing every child once", {
    timeout: 300_000,
  }, async () => {
    const { db } = database();
    if (!redis || !aws || !azure || !awsClient || !vault) throw new Error("not started");
    const [awsRow] = await db
      .insert(kms)
      .values({ name: AWS_KMS, provider: "awskms", keyCollection: REGION, options: { endpoint: aws.url } })
      .returning();
    const [azureRow] = await db
      .insert(kms)
      .values({
        name: AZURE_KMS,
        provider: "azurekeyvault",
        keyCollection: azure.url,
        options: { managedHsm: true },
      })
      .returning();
    if (!awsRow || !azureRow) throw new Error("kms rows were not inserted");
    await seedKeys();

    const parent = await db.transaction((tx) =>
      acceptOperation(tx, {
        type: "redistribute",
        input: {
          to: [
            { id: awsRow.id, name: AWS_KMS },
            { id: azureRow.id, name: AZURE_KMS },
          ],
          keys: { all: true },
        },
        actor: "test",
      }),
    );
    // Cloud requests take a few milliseconds, so that the kill and the restart land in the middle of work.
    aws.faults.configure({ latencyMs: { min: 2, max: 15 } });
    azure.faults.configure({ latencyMs: { min: 2, max: 15 } });

    const started = Date.now();
    // Progress on the test's output, so a slow run shows where it stood.
    const note = (text: string) =>
      process.stdout.write(`[chaos] ${Math.round((Date.now() - started) / 1000)}s ${text}\n`);
    const report = setInterval(() => {
      childStates(parent.id).then(
        (states) => note(JSON.stringify(states)),
        () => {},
      );
    }, 10_000);
    const doomed = spawnWorker();
    const survivor = spawnWorker();
    await until(
      async () => ((await childStates(parent.id)).succeeded ?? 0) >= 150,
      "150 children to succeed",
      240_000,
      [doomed, survivor],
    );
    await stopWorkerProcess(doomed, "SIGKILL");
    note("worker killed");

    await until(
      async () => ((await childStates(parent.id)).succeeded ?? 0) >= 400,
      "400 children to succeed",
      240_000,
      [survivor],
    );
    const beforeRestart = await childStates(parent.id);
    await redis.restart();
    note("redis restarted");
    expect((beforeRestart.succeeded ?? 0) + (beforeRestart.failed ?? 0)).toBeLessThan(2 * KEY_COUNT);

    await until(
      async () => {
        const [row] = await db
          .select({ state: operations.state })
          .from(operations)
          .where(eq(operations.id, parent.id));
        return row && ["succeeded", "failed", "canceled"].includes(row.state) && row.state;
      },
      "the redistribution to end",
      360_000,
      [survivor],
    );
    clearInterval(report);
    await stopWorkerProcess(survivor, "SIGTERM");
    aws.faults.reset();
    azure.faults.reset();

    // The parent succeeded and its progress reached its total; every child succeeded.
    const [final] = await db.select().from(operations).where(eq(operations.id, parent.id));
    if (!final) throw new Error("parent gone");
    const view = await operationView(db, final);
    expect(view.state, JSON.stringify(view.error)).toBe("succeeded");
    expect(view.progress).toMatchObject({ done: 2 * KEY_COUNT, failed: 0, total: 2 * KEY_COUNT });
    expect(await childStates(parent.id)).toEqual({ succeeded: 2 * KEY_COUNT });

    // Each child succeeded once: one `operation.succeeded` ledger entry per child, none twice.
    await chainAll(db);
    const twice = await db
      .select({ operationId: ledgerEntries.operationId, count: sql<number>`count(*)::int` })
      .from(ledgerEntries)
      .where(and(eq(ledgerEntries.event, "operation.succeeded"), isNotNull(ledgerEntries.operationId)))
      .groupBy(ledgerEntries.operationId)
      .having(sql`count(*) > 1`);
    expect(twice).toEqual([]);
    const children = await db
      .select({ id: operations.id })
      .from(operations)
      .where(eq(operations.parentId, parent.id));
    const succeededEntries = await db
      .select({ count: sql<number>`count(distinct ${ledgerEntries.operationId})::int` })
      .from(ledgerEntries)
      .where(
        and(
          eq(ledgerEntries.event, "operation.succeeded"),
          inArray(
            ledgerEntries.operationId,
            children.map((c) => c.id),
          ),
        ),
      );
    expect(succeededEntries[0]?.count).toBe(2 * KEY_COUNT);

    // Nothing was done twice in the clouds: one KMS key per key version, one enabled Azure version per key,
    // nothing untagged, and the run's shared KEK deleted at its end.
    const inAws = await awsKeysByVersion(awsClient);
    expect(inAws.untagged).toEqual([]);
    expect(inAws.live.size).toBe(KEY_COUNT);
    expect([...inAws.live.values()].filter((arns) => arns.length !== 1)).toEqual([]);
    const inAzure = await azureVersionsByVersion(vault);
    expect(inAzure.untagged).toEqual([]);
    expect(inAzure.keks).toEqual([]);
    expect(inAzure.live.size).toBe(KEY_COUNT);
    expect([...inAzure.live.values()].filter((ids) => ids.length !== 1)).toEqual([]);

    expect((await verifyLedger(db)).ok).toBe(true);
  });
});

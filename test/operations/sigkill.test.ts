import { randomBytes } from "node:crypto";
import { KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import type { KeyClient } from "@azure/keyvault-keys";
import { and, eq, inArray, like, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../src/crypto/key-types.js";
import {
  distributions,
  distributionVersions,
  keys,
  kms,
  operationSteps,
  operations,
} from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { chainAll } from "../../src/ledger/chain.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { awsKeysByVersion, azureVersionsByVersion } from "../helpers/remote-inventory.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import {
  spawnWorkerProcess,
  stopWorkerProcess,
  until,
  type WorkerProcess,
} from "../helpers/worker-process.js";
import { vaultClient } from "../providers/azure-key-vault/helpers.js";
import { accept, acceptCreate } from "./helpers.js";

/**
 * Issue 5: a real worker process (relay, sweeper, chainer, BullMQ worker, the real engine) is SIGKILLed in
 * the middle of distributions to both emulated clouds, a second one is started, and in the end every
 * operation has succeeded with exactly one remote key (AWS) or key version (Azure) per keyferry version, no
 * key exchange key left behind, and a ledger chain that verifies.
 */
const database = useTestDatabase();
const testRedis = useTestRedis();
const ROOT_KEY = randomBytes(32).toString("base64");
const AWS_KMS = "aws-sigkill";
const AZURE_KMS = "azure-sigkill";
const REGION = "eu-west-1";
const FINAL_STATES = ["succeeded", "failed", "canceled"] as const;

let aws: RunningEmulator | undefined;
let azure: RunningEmulator | undefined;
let awsClient: KMSClient | undefined;
let vault: KeyClient | undefined;

const workers: WorkerProcess[] = [];

function spawnWorker(): WorkerProcess {
  const worker = spawnWorkerProcess({
    DATABASE_URL: database().url,
    REDIS_URL: TEST_REDIS_URL,
    KEYFERRY_REDIS_PREFIX: testRedis().prefix,
    KEYFERRY_ROOT_KEY: ROOT_KEY,
    KEYFERRY_SHUTDOWN_GRACE_MS: "5000",
    // Default lock, stalled-check and run-lease settings: the recovery time printed below is production's.
    TEST_DEFAULT_RECOVERY: "1",
  });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  [aws, azure] = await Promise.all([startAwsKmsEmulator(), startAzureKeyVaultEmulator()]);
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
  await Promise.all([aws?.close(), azure?.close()]);
});

async function progress() {
  const { db } = database();
  const [counts] = await db
    .select({
      total: sql<number>`count(*)::int`,
      final: sql<number>`(count(*) filter (where ${inArray(operations.state, [...FINAL_STATES])}))::int`,
      runningDistributions: sql<number>`(count(*) filter (where ${operations.type} = 'distribute' and ${operations.state} = 'running'))::int`,
    })
    .from(operations);
  const [steps] = await db
    .select({ running: sql<number>`count(*)::int` })
    .from(operationSteps)
    .where(and(like(operationSteps.name, "distribute@%"), eq(operationSteps.state, "running")));
  return {
    ...(counts ?? { total: 0, final: 0, runningDistributions: 0 }),
    runningSteps: steps?.running ?? 0,
  };
}

/** Whether either cloud holds any key yet (a KEK counts: it too is a remote object made mid-step). */
async function anyRemoteKey(): Promise<boolean> {
  if (!awsClient || !vault) throw new Error("emulators not started");
  const listed = await awsClient.send(new ListKeysCommand({ Limit: 1 }));
  if ((listed.Keys ?? []).length > 0) return true;
  for await (const _ of vault.listPropertiesOfKeys()) return true;
  return false;
}

interface Plan {
  name: string;
  type: KeyType;
  aws?: string[];
  azure?: string[];
}

const PLAN: Plan[] = [
  { name: "kill-rsa-1", type: "rsa-2048", aws: ["decrypt"], azure: ["decrypt"] },
  { name: "kill-rsa-2", type: "rsa-2048", aws: ["decrypt"], azure: ["decrypt"] },
  { name: "kill-rsa-3", type: "rsa-2048", azure: ["decrypt"] },
  { name: "kill-ec-1", type: "ecdsa-p256", aws: ["sign", "verify"], azure: ["sign", "verify"] },
  { name: "kill-ec-2", type: "ecdsa-p256", aws: ["sign", "verify"], azure: ["sign", "verify"] },
  { name: "kill-aes-1", type: "aes256-gcm96", aws: ["encrypt", "decrypt"] },
  { name: "kill-aes-2", type: "aes256-gcm96", aws: ["encrypt", "decrypt"] },
  { name: "kill-aes-3", type: "aes256-gcm96", aws: ["encrypt", "decrypt"] },
];

describe("a worker SIGKILLed in the middle of distributions", () => {
  it("is replaced by another that finishes every operation, with one remote copy per version", async () => {
    const { db } = database();
    if (!aws || !azure || !awsClient || !vault) throw new Error("emulators not started");
    const [awsRow] = await db
      .insert(kms)
      .values({ name: AWS_KMS, provider: "awskms", keyCollection: REGION, options: { endpoint: aws.url } })
      .returning();
    const [azureRow] = await db
      .insert(kms)
      .values({ name: AZURE_KMS, provider: "azurekeyvault", keyCollection: azure.url })
      .returning();
    if (!awsRow || !azureRow) throw new Error("kms rows were not inserted");

    // Keys and their distributions, accepted up front: each key's distributions wait for its creation.
    const distributeOps: string[] = [];
    for (const plan of PLAN) {
      const { keyId } = await acceptCreate(db, plan.name, plan.type);
      const key = { id: keyId, name: plan.name };
      for (const [row, purposes] of [
        [awsRow, plan.aws],
        [azureRow, plan.azure],
      ] as const) {
        if (!purposes) continue;
        distributeOps.push(
          await accept(db, "distribute", key, {
            kms: { id: row.id, name: row.name },
            input: { purposes, protection: "hsm" },
          }),
        );
      }
    }
    expect(distributeOps).toHaveLength(12);

    // Every cloud request takes 100-300 ms, so that the worker is surely in the middle of something.
    aws.faults.configure({ latencyMs: { min: 100, max: 300 } });
    azure.faults.configure({ latencyMs: { min: 100, max: 300 } });

    const first = spawnWorker();
    const atKill = await until(
      async () => {
        // A remote key, once there, stays: look for it first, then at the steps, then kill at once.
        if (!(await anyRemoteKey())) return false;
        const now = await progress();
        if (now.total > 0 && now.final === now.total) {
          throw new Error("the first worker finished everything before it could be killed");
        }
        return now.runningDistributions > 0 && now.runningSteps > 0 && now;
      },
      "a distribution in the middle of its distribute step",
      90_000,
      [first],
    );
    await stopWorkerProcess(first, "SIGKILL");
    expect(atKill.final).toBeLessThan(atKill.total);
    const interrupted = await db
      .select({ id: operationSteps.id })
      .from(operationSteps)
      .where(eq(operationSteps.state, "running"));
    expect(interrupted.length).toBeGreaterThan(0);

    const killedAt = Date.now();
    const second = spawnWorker();
    // How soon the steps the killed worker was in are started again (another run took the operations over).
    await until(
      async () => {
        const again = await db
          .select({ attempts: operationSteps.attempts })
          .from(operationSteps)
          .where(
            inArray(
              operationSteps.id,
              interrupted.map((s) => s.id),
            ),
          );
        return again.every((s) => s.attempts >= 2);
      },
      "the interrupted steps to start again",
      60_000,
      [second],
    );
    const resumedAfter = ((Date.now() - killedAt) / 1000).toFixed(1);
    process.stdout.write(
      `[sigkill] ${interrupted.length} interrupted steps started again ${resumedAfter} s after the kill (lock 5 s, stalled check 2.5 s, run lease 6 s)\n`,
    );
    await until(
      async () => {
        const now = await progress();
        return now.final === now.total;
      },
      "every operation to be final",
      120_000,
      [second],
    );
    await stopWorkerProcess(second, "SIGTERM");
    expect(second.child.exitCode, second.output.join("").slice(-4000)).toBe(0);
    aws.faults.reset();
    azure.faults.reset();

    // Every operation succeeded, and the steps running at the kill were started again and finished.
    const ops = await db
      .select({ id: operations.id, type: operations.type, state: operations.state, error: operations.error })
      .from(operations);
    expect(ops).toHaveLength(PLAN.length + 12);
    expect(ops.filter((op) => op.state !== "succeeded")).toEqual([]);
    const resumed = await db
      .select({ attempts: operationSteps.attempts, state: operationSteps.state })
      .from(operationSteps)
      .where(
        inArray(
          operationSteps.id,
          interrupted.map((s) => s.id),
        ),
      );
    expect(resumed.every((s) => s.state === "succeeded" && s.attempts >= 2)).toBe(true);

    // What keyferry recorded: one active distribution per planned copy, version 1 enabled.
    const recorded = await db
      .select({
        key: keys.name,
        kms: kms.name,
        state: distributions.state,
        remoteName: distributions.remoteName,
        version: distributionVersions.version,
        remoteId: distributionVersions.remoteId,
        versionState: distributionVersions.state,
      })
      .from(distributions)
      .innerJoin(keys, eq(keys.id, distributions.keyId))
      .innerJoin(kms, eq(kms.id, distributions.kmsId))
      .leftJoin(distributionVersions, eq(distributionVersions.distributionId, distributions.id));
    const planned = PLAN.flatMap((p) => [
      ...(p.aws ? [`${p.name}@${AWS_KMS}`] : []),
      ...(p.azure ? [`${p.name}@${AZURE_KMS}`] : []),
    ]).sort();
    expect(recorded.map((r) => `${r.key}@${r.kms}`).sort()).toEqual(planned);
    expect(
      recorded.every((r) => r.state === "active" && r.version === 1 && r.versionState === "enabled"),
    ).toBe(true);

    // AWS: exactly one live KMS key per (key, version), the one keyferry recorded, and nothing untagged.
    const awsSeen = await awsKeysByVersion(awsClient);
    expect(awsSeen.untagged).toEqual([]);
    const awsPlanned = PLAN.filter((p) => p.aws).map((p) => `${p.name}/1`);
    expect([...awsSeen.live.keys()].sort()).toEqual(awsPlanned.sort());
    for (const row of recorded.filter((r) => r.kms === AWS_KMS)) {
      expect(awsSeen.live.get(`${row.key}/1`), row.key).toEqual([row.remoteId]);
    }

    // Azure: exactly one key version per keyferry version in each key, the one recorded, and no KEK left.
    const azureSeen = await azureVersionsByVersion(vault);
    expect(azureSeen.keks).toEqual([]);
    expect(azureSeen.untagged).toEqual([]);
    const azurePlanned = PLAN.filter((p) => p.azure).map((p) => `${p.name}/1`);
    expect([...azureSeen.live.keys()].sort()).toEqual(azurePlanned.sort());
    for (const row of recorded.filter((r) => r.kms === AZURE_KMS)) {
      expect(row.remoteName).toBe(row.key);
      expect(azureSeen.live.get(`${row.key}/1`), row.key).toEqual([row.remoteId]);
    }

    // The ledger: every entry chained, and the chain verifies.
    await chainAll(db);
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
  }, 240_000);
});

import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { loadConfig } from "../../src/config.js";
import { parseRootKey } from "../../src/crypto/root-key.js";
import { generateSealedVersion, insertKeyVersion } from "../../src/custody/key-versions.js";
import { keys, kms, operations } from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../../src/emulators/azure-key-vault/index.js";
import type { QuotaLimiter } from "../../src/emulators/common/quota.js";
import { createLogger } from "../../src/logger.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { startWorkerProcess } from "../../src/processes/worker.js";
import { bucketRate, QUOTA_HEADROOM } from "../../src/queue/quotas.js";
import { TEST_PREFIX, TEST_REDIS_URL } from "../helpers/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/test-database.js";
import type { Comparison } from "./measure.js";

/**
 * Quota-aware pacing (issue 6): a redistribution of `count` EC keys to an AWS region and an Azure vault
 * whose emulators apply the published quotas scaled by `scale`, run by a real worker process configured
 * with the same scale. Per destination, the binding quota (AWS GetParametersForImport, Azure HSM
 * create/import) is compared with what the run achieved in its steady state: calls beyond the bucket's
 * initial burst, over the time between the first and the last call. Throttled answers are counted: pacing
 * must keep every call under the quota. Fairness: one key's rotation in AWS, timed on an idle destination and
 * again in the middle of the run, which keeps that destination at its quota.
 */
export async function benchPacing(count: number, scale: number): Promise<Comparison[]> {
  const database = await createTestDatabase();
  const prefix = `{${TEST_PREFIX}bench_${randomBytes(4).toString("hex")}}`;
  const mode = { kind: "scaled" as const, scale };
  const [aws, azure] = await Promise.all([
    startAwsKmsEmulator({ quota: mode, reuseWrappingKeys: true }),
    startAzureKeyVaultEmulator({ quota: mode }),
  ]);
  const rootKey = randomBytes(32).toString("base64");
  const config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    KEYFERRY_REDIS_PREFIX: prefix,
    KEYFERRY_ROOT_KEY: rootKey,
    KEYFERRY_RATE_LIMIT_SCALE: String(scale),
    KEYFERRY_WORKER_CONCURRENCY: "32",
    KEYFERRY_RECONCILE_INTERVAL_SECONDS: "0",
  });
  const logger = createLogger({ level: "warn" }, new Writable({ write: (_c, _e, done) => done() }));
  const worker = await startWorkerProcess(config, logger);
  try {
    const { db } = database;
    const root = parseRootKey(rootKey);
    const ring = { current: root, all: [root] };
    for (let i = 0; i < count; i++) {
      const name = `pace-${String(i).padStart(4, "0")}`;
      const sealed = await generateSealedVersion(ring, { name, type: "ecdsa-p256" }, 1);
      const [key] = await db
        .insert(keys)
        .values({ name, type: "ecdsa-p256", state: "active", latestVersion: 1 })
        .returning({ id: keys.id });
      if (key) await insertKeyVersion(db, key.id, sealed);
    }
    const [awsRow] = await db
      .insert(kms)
      .values({
        name: "aws-pace",
        provider: "awskms",
        keyCollection: "eu-west-1",
        options: { endpoint: aws.url },
      })
      .returning();
    const [azureRow] = await db
      .insert(kms)
      .values({ name: "azure-pace", provider: "azurekeyvault", keyCollection: azure.url })
      .returning();
    if (!awsRow || !azureRow) throw new Error("kms rows were not inserted");

    // Fairness: an urgent key with a copy in AWS, rotated once while nothing else runs and once in the middle
    // of the run, which keeps the same destination at its quota.
    const [urgent] = await db
      .insert(keys)
      .values({ name: "urgent", type: "ecdsa-p256", state: "active", latestVersion: 1 })
      .returning();
    if (!urgent) throw new Error("no urgent key");
    await insertKeyVersion(db, urgent.id, await generateSealedVersion(ring, urgent, 1));
    const urgentRef = { id: urgent.id, name: urgent.name };
    const interactive = (type: "distribute" | "rotate", input: Record<string, unknown> = {}) =>
      db.transaction((tx) =>
        acceptOperation(tx, {
          type,
          keyId: urgentRef.id,
          kmsId: type === "distribute" ? awsRow.id : null,
          input,
          actor: "bench",
          keyName: urgentRef.name,
        }),
      );
    const timed = async (type: "distribute" | "rotate", input?: Record<string, unknown>) => {
      const started = process.hrtime.bigint();
      const op = await interactive(type, input);
      worker.relay.nudge();
      await finished(db, op.id);
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    await timed("distribute", { purposes: ["sign", "verify"], protection: "hsm" });
    // Let the AWS buckets refill, so the idle rotation meets them as the busy one would if it were alone.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = await timed("rotate");

    const parent = await db.transaction((tx) =>
      acceptOperation(tx, {
        type: "redistribute",
        input: {
          to: [
            { id: awsRow.id, name: awsRow.name },
            { id: azureRow.id, name: azureRow.name },
          ],
          keys: { prefix: "pace-" },
          purposes: ["sign", "verify"],
        },
        actor: "bench",
      }),
    );
    worker.relay.nudge();
    // A quarter into the run, the urgent rotation.
    for (;;) {
      const [done] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(operations)
        .where(and(eq(operations.parentId, parent.id), eq(operations.state, "succeeded")));
      if ((done?.n ?? 0) >= count / 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const busy = await timed("rotate");
    await finished(db, parent.id);
    if (process.env.PACING_DEBUG) {
      const stats = await db.execute(sql`
        select split_part(s.name, '@', 1) || '@' || split_part(s.name, '@', 2) as step, count(*)::int as n,
          round(avg(extract(epoch from s.finished_at - s.started_at))::numeric, 2) as avg_s,
          round(max(s.attempts)::numeric, 0) as max_attempts,
          min(s.started_at) as first, max(s.finished_at) as last
        from operation_steps s group by 1 order by 1`);
      process.stdout.write(`${JSON.stringify(stats.rows, null, 1)}\n`);
    }
    const latency = (name: string, seconds: number) => ({ name, ops: 1, seconds, perSecond: 1 / seconds });
    return [
      {
        benchmark: "fairness: urgent rotation",
        subject: latency(`during the run (${busy.toFixed(2)} s)`, busy),
        baseline: latency(`idle destination (${idle.toFixed(2)} s)`, idle),
        ratio: idle / busy,
      },
      // The urgent key's distribution and idle rotation come before the run.
      achieved("pacing: AWS GetParametersForImport", aws.quota, "GetParametersForImport", "awskms", scale, 2),
      // The run's one KEK is the first HSM create; the imports' steady state starts after it.
      achieved("pacing: Azure HSM import", azure.quota, "hsm-create", "azurekeyvault", scale, 1, "importKey"),
    ];
  } finally {
    await worker.stop();
    await Promise.all([aws.close(), azure.close()]);
    const redis = new Redis(TEST_REDIS_URL);
    const left = await redis.keys(`${prefix}*`);
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
    await database.close();
  }
}

async function finished(db: TestDatabase["db"], id: string): Promise<void> {
  for (;;) {
    const [row] = await db.select({ state: operations.state }).from(operations).where(eq(operations.id, id));
    if (row && ["succeeded", "failed", "canceled"].includes(row.state)) {
      if (row.state !== "succeeded") throw new Error(`operation ${id} ended ${row.state}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Steady-state rate of one bucket vs its published quota: the calls after the first `skip` (set-up calls) and
 * past keyferry's initial burst, over the time from the first of them to the last.
 */
function achieved(
  benchmark: string,
  quota: QuotaLimiter,
  bucket: string,
  provider: "awskms" | "azurekeyvault",
  scale: number,
  skip: number,
  operation = bucket,
): Comparison {
  const times = (quota.times.get(bucket) ?? []).slice(skip);
  const calls = times.length;
  const throttled = quota.throttled.get(bucket) ?? 0;
  const first = times[0];
  const last = times.at(-1);
  const seconds = first !== undefined && last !== undefined ? (last - first) / 1000 : 0;
  const rate = bucketRate(provider, operation, scale, undefined);
  // The quota as published (keyferry's own rate is its headroom under it).
  const published = (rate.ratePerMs * 1000) / QUOTA_HEADROOM;
  const perSecond = seconds > 0 ? Math.max(0, calls - rate.capacity) / seconds : 0;
  return {
    benchmark,
    subject: { name: `achieved (${calls} calls, ${throttled} throttled)`, ops: calls, seconds, perSecond },
    baseline: { name: "published quota", ops: 0, seconds: 0, perSecond: published },
    ratio: perSecond / published,
  };
}

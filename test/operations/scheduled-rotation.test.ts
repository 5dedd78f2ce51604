import { Writable } from "node:stream";
import { and, eq, sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  distributions,
  distributionVersions,
  keys,
  keyVersions,
  operations,
} from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { acceptDueWork } from "../../src/operations/schedules.js";
import { type Schedules, startSchedules } from "../../src/queue/schedules.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import { until } from "../helpers/worker-process.js";
import { AWS_KMS, AZURE_KMS, accept, acceptCreate, type Engine, runToEnd, startEngine } from "./helpers.js";

/**
 * Issue 6: a key's `rotationPeriod` creates rotations on time, across all its destinations, through a BullMQ
 * job scheduler; a schedule missed while no worker ran causes one rotation when workers return, not one per
 * missed period; a manual rotation pushes the next scheduled one back.
 */
const database = useTestDatabase();
const testRedis = useTestRedis();
const silent = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));
const PERIOD_SECONDS = 3600;
let engine: Engine;
const running: Schedules[] = [];
const connections: Redis[] = [];

beforeAll(async () => {
  engine = await startEngine(database().db);
}, 60_000);
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  for (const c of connections) c.disconnect();
  await engine?.close();
});

function schedules(tickMs: number): Promise<Schedules> {
  return startSchedules({
    db: database().db,
    connection: () => {
      const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      connections.push(redis);
      return redis;
    },
    redisPrefix: testRedis().prefix,
    logger: silent,
    tickMs,
    reconcileIntervalSeconds: 0,
  }).then((s) => {
    running.push(s);
    return s;
  });
}

/** A key created, distributed to both clouds, with a rotation period; its latest version is `ageSeconds` old. */
async function distributedKey(name: string) {
  const { db } = database();
  const created = await acceptCreate(db, name, "ecdsa-p256");
  await runToEnd(engine.deps, created.operationId);
  const key = { id: created.keyId, name };
  for (const kms of [
    { id: engine.kmsIds.aws, name: AWS_KMS },
    { id: engine.kmsIds.azure, name: AZURE_KMS },
  ]) {
    const id = await accept(db, "distribute", key, {
      kms,
      input: { purposes: ["sign", "verify"], protection: "hsm" },
    });
    expect(await runToEnd(engine.deps, id)).toEqual({ kind: "finished", state: "succeeded" });
  }
  await db.update(keys).set({ rotationPeriodSeconds: PERIOD_SECONDS }).where(eq(keys.id, key.id));
  return key;
}

async function ageLatestVersion(keyId: string, seconds: number): Promise<void> {
  const { db } = database();
  await db.execute(sql`
    update ${keyVersions} set created_at = now() - make_interval(secs => ${seconds})
    where key_id = ${keyId} and version = (select latest_version from ${keys} where id = ${keyId})`);
}

async function rotationsOf(keyId: string) {
  const { db } = database();
  return db
    .select({ id: operations.id, state: operations.state, input: operations.input })
    .from(operations)
    .where(and(eq(operations.keyId, keyId), eq(operations.type, "rotate")));
}

async function copiesAt(keyId: string) {
  const { db } = database();
  return db
    .select({ kmsId: distributions.kmsId, version: distributionVersions.version })
    .from(distributionVersions)
    .innerJoin(distributions, eq(distributions.id, distributionVersions.distributionId))
    .where(eq(distributions.keyId, keyId));
}

describe("scheduled rotation", () => {
  it("rotates a due key once, in every destination, and not again before its next period", async () => {
    const { db } = database();
    const key = await distributedKey("sched-due");
    expect(await acceptDueWork(db, 0)).toEqual({ rotations: 0, reconciles: 0 });

    await ageLatestVersion(key.id, PERIOD_SECONDS + 5);
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 1 });
    // A second tick while the rotation waits accepts nothing more.
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 0 });
    const [rotation, ...more] = await rotationsOf(key.id);
    expect(more).toEqual([]);
    expect(rotation?.input).toMatchObject({ scheduled: true });
    expect(await runToEnd(engine.deps, rotation?.id ?? "")).toEqual({ kind: "finished", state: "succeeded" });

    // Version 2 reached both clouds; the next rotation is a whole period away.
    const copies = await copiesAt(key.id);
    expect(
      copies
        .filter((c) => c.version === 2)
        .map((c) => c.kmsId)
        .sort(),
    ).toEqual([engine.kmsIds.aws, engine.kmsIds.azure].sort());
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 0 });
  }, 60_000);

  it("runs a schedule missed for several periods once when the workers return", async () => {
    const { db } = database();
    const key = await distributedKey("sched-missed");
    // The scheduler is registered, then every worker goes away...
    const first = await schedules(100);
    await first.stop();
    running.splice(running.indexOf(first), 1);
    // ...while three and a half periods pass.
    await ageLatestVersion(key.id, Math.floor(3.5 * PERIOD_SECONDS));

    // Workers return: the BullMQ job scheduler's ticks resume and accept exactly one rotation.
    await schedules(100);
    await until(async () => (await rotationsOf(key.id)).length > 0, "a scheduled rotation", 20_000);
    await new Promise((resolve) => setTimeout(resolve, 600)); // several more ticks
    const rotations = await rotationsOf(key.id);
    expect(rotations).toHaveLength(1);
    expect(await runToEnd(engine.deps, rotations[0]?.id ?? "")).toEqual({
      kind: "finished",
      state: "succeeded",
    });
    const [row] = await db.select({ latest: keys.latestVersion }).from(keys).where(eq(keys.id, key.id));
    expect(row?.latest).toBe(2);
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 0 });
  }, 60_000);

  it("counts the period from the latest version, so a manual rotation pushes the schedule back", async () => {
    const { db } = database();
    const key = await distributedKey("sched-manual");
    await ageLatestVersion(key.id, PERIOD_SECONDS - 60);
    const manual = await accept(db, "rotate", key);
    expect(await runToEnd(engine.deps, manual)).toEqual({ kind: "finished", state: "succeeded" });
    // An hour after version 1, version 2 is one minute old: nothing is due.
    await ageLatestVersion(key.id, 60);
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 0 });
    // Keys without a period are never rotated by the schedule.
    await db.update(keys).set({ rotationPeriodSeconds: null }).where(eq(keys.id, key.id));
    await ageLatestVersion(key.id, 10 * PERIOD_SECONDS);
    expect(await acceptDueWork(db, 0)).toMatchObject({ rotations: 0 });
  }, 60_000);
});

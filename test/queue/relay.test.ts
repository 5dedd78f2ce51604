import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { outbox } from "../../src/db/schema/index.js";
import { startRelay } from "../../src/queue/relay.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import { accept, operationsQueue, outboxRows, silentLogger } from "./helpers.js";

const database = useTestDatabase();
const testRedis = useTestRedis();
const connections: Redis[] = [];

function connect(url = TEST_REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
  redis.on("error", () => {});
  connections.push(redis);
  return redis;
}

afterAll(() => {
  for (const redis of connections) redis.disconnect();
});

function relayWith(connection: Redis, extra: Partial<Parameters<typeof startRelay>[0]> = {}) {
  return startRelay({
    db: database().db,
    connection,
    redisPrefix: testRedis().prefix,
    logger: silentLogger,
    pollMs: 60_000,
    ...extra,
  });
}

describe("outbox relay", () => {
  it("moves each outbox row into BullMQ once, with jobId = operation id and only the id as data", async () => {
    const { db } = database();
    const first = await accept(db);
    const second = await accept(db);
    const relay = relayWith(connect());
    try {
      await relay.relayOnce();
      expect(await outboxRows(db, first)).toEqual([]);
      expect(await outboxRows(db, second)).toEqual([]);
      const queue = operationsQueue(connect(), testRedis().prefix);
      const job = await queue.getJob(first);
      expect(job?.id).toBe(first);
      expect(job?.data).toEqual({ operationId: first });
      expect(await relay.relayOnce()).toBe(0);
      await queue.close();
    } finally {
      await relay.stop();
    }
  });

  it("gives one job when the same operation is relayed twice", async () => {
    const { db } = database();
    const id = await accept(db);
    const relay = relayWith(connect());
    try {
      await relay.relayOnce();
      // As if a relay had enqueued and crashed before deleting its row.
      await db.insert(outbox).values({ operationId: id, queue: "operations" });
      await relay.relayOnce();
      const queue = operationsQueue(connect(), testRedis().prefix);
      const counts = await queue.getJobCounts("waiting", "delayed", "active");
      const jobs = await queue.getJobs(["waiting"]);
      expect(jobs.filter((j) => j.id === id)).toHaveLength(1);
      expect(counts.waiting).toBeGreaterThan(0);
      expect(await outboxRows(db, id)).toEqual([]);
      await queue.close();
    } finally {
      await relay.stop();
    }
  });

  it("keeps the row while Redis is unreachable and enqueues it once Redis is back", async () => {
    const { db } = database();
    const id = await accept(db);
    const down = relayWith(connect("redis://127.0.0.1:1"), {
      enqueueTimeoutMs: 300,
      // Long enough that the row is not offered again before this relay stops (one try, one attempt).
      retryBaseMs: 1_000,
      retryMaxMs: 1_000,
    });
    try {
      expect(await down.relayOnce()).toBe(0);
    } finally {
      await down.stop();
    }
    const [row] = await outboxRows(db, id);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toMatch(/EnqueueTimeout/);

    await new Promise((r) => setTimeout(r, 20));
    const up = relayWith(connect(), { pollMs: 20 });
    up.nudge();
    try {
      const queue = operationsQueue(connect(), testRedis().prefix);
      for (let i = 0; i < 100 && !(await queue.getJob(id)); i++) await new Promise((r) => setTimeout(r, 50));
      expect((await queue.getJob(id))?.data).toEqual({ operationId: id });
      // The row goes when the relay's transaction commits, just after Redis took the job.
      for (let i = 0; i < 100 && (await outboxRows(db, id)).length > 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(await outboxRows(db, id)).toEqual([]);
      await queue.close();
    } finally {
      await up.stop();
    }
  });
});

import { Worker } from "bullmq";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { operations } from "../../src/db/schema/index.js";
import { OPERATIONS_QUEUE } from "../../src/queue/names.js";
import { startRelay } from "../../src/queue/relay.js";
import { startSweeper } from "../../src/queue/sweeper.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { accept, operationsQueue, outboxRows, setState, silentLogger, waitFor } from "./helpers.js";

const database = useTestDatabase();
const testRedis = useTestRedis();

async function age(id: string) {
  await database()
    .db.update(operations)
    .set({ updatedAt: sql`now() - interval '1 hour'` })
    .where(sql`${operations.id} = ${id}`);
}

describe("queue sweeper", () => {
  it("re-enqueues an unfinished operation whose job vanished, and leaves the others alone", async () => {
    const { db } = database();
    const { redis, prefix } = testRedis();
    const queue = operationsQueue(redis, prefix);
    const relay = startRelay({
      db,
      connection: redis,
      redisPrefix: prefix,
      logger: silentLogger,
      pollMs: 60_000,
    });
    const sweeper = startSweeper({ db, queue, logger: silentLogger, graceMs: 1000, intervalMs: 60_000 });
    try {
      const lost = await accept(db);
      const present = await accept(db);
      const finished = await accept(db);
      const fresh = await accept(db);
      await relay.relayOnce();
      await (await queue.getJob(lost))?.remove();
      await (await queue.getJob(finished))?.remove();
      await setState(db, finished, "succeeded");
      await (await queue.getJob(fresh))?.remove();
      for (const id of [lost, present, finished]) await age(id);

      expect(await sweeper.sweepOnce()).toBe(1);
      expect(await outboxRows(db, lost)).toHaveLength(1);
      expect(await outboxRows(db, present)).toHaveLength(0);
      expect(await outboxRows(db, finished)).toHaveLength(0);
      expect(await outboxRows(db, fresh)).toHaveLength(0);
      // The row is already in the outbox: a second sweep adds nothing.
      expect(await sweeper.sweepOnce()).toBe(0);

      await relay.relayOnce();
      expect((await queue.getJob(lost))?.data).toEqual({ operationId: lost });
    } finally {
      await sweeper.stop();
      await relay.stop();
      await queue.close();
    }
  });

  it("replaces a failed job of an operation that is not final", async () => {
    const { db } = database();
    const { redis, prefix } = testRedis();
    const queue = operationsQueue(redis, prefix);
    const relay = startRelay({
      db,
      connection: redis,
      redisPrefix: prefix,
      logger: silentLogger,
      pollMs: 60_000,
    });
    const sweeper = startSweeper({ db, queue, logger: silentLogger, graceMs: 1000, intervalMs: 60_000 });
    try {
      const id = await accept(db);
      await relay.relayOnce();
      await (await queue.getJob(id))?.remove();
      await queue.add("operation", { operationId: id }, { jobId: id, attempts: 1 });
      const worker = new Worker(
        OPERATIONS_QUEUE,
        async () => {
          throw new Error("boom");
        },
        { connection: redis, prefix },
      );
      await waitFor(async () => (await queue.getJob(id))?.isFailed(), "the job to fail");
      await worker.close();
      await age(id);

      expect(await sweeper.sweepOnce()).toBe(1);
      await relay.relayOnce();
      expect(await (await queue.getJob(id))?.getState()).toBe("waiting");
    } finally {
      await sweeper.stop();
      await relay.stop();
      await queue.close();
    }
  });
});

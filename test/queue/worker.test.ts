import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { EngineDependencies, RunOperation, RunOutcome } from "../../src/operations/engine.js";
import { startRelay } from "../../src/queue/relay.js";
import { type OperationsWorker, startOperationsWorker } from "../../src/queue/worker.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import { accept, operationsQueue, silentLogger, waitFor } from "./helpers.js";

const database = useTestDatabase();
const testRedis = useTestRedis();
const connections: Redis[] = [];
const connection = () => {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  connections.push(redis);
  return redis;
};
afterAll(() => {
  for (const redis of connections) redis.disconnect();
});

/** Stands in for the engine's dependencies; the sentinel must never reach Redis. */
const SENTINEL = "SENTINEL-SECRET-3f9a1c";
const engine = { ring: { current: SENTINEL }, logger: silentLogger } as unknown as EngineDependencies;

interface Run {
  operationId: string;
  attempt: number;
  at: number;
}

function scripted(outcomes: Record<string, RunOutcome[]>, runs: Run[]): RunOperation {
  return async (_deps, operationId, attempt) => {
    runs.push({ operationId, attempt, at: Date.now() });
    const next = outcomes[operationId]?.shift();
    return next ?? { kind: "finished", state: "succeeded" };
  };
}

function start(runOperation: RunOperation, graceMs = 5000): OperationsWorker {
  return startOperationsWorker({
    config: {
      redisPrefix: testRedis().prefix,
      worker: { concurrency: 4, kmsConcurrency: 2, rateLimitScale: 1, shutdownGraceMs: graceMs },
    },
    connection,
    runOperation,
    engine,
    logger: silentLogger,
    settings: { lockDurationMs: 1000, stalledIntervalMs: 500, retryBaseMs: 20, retryMaxMs: 100 },
  });
}

async function enqueue(count: number): Promise<string[]> {
  const { db } = database();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await accept(db));
  const relay = startRelay({
    db,
    connection: testRedis().redis,
    redisPrefix: testRedis().prefix,
    logger: silentLogger,
    pollMs: 60_000,
  });
  await relay.relayOnce();
  await relay.stop();
  return ids;
}

describe("operations worker", () => {
  it("completes finished runs, runs blocked ones later, and retries with growing attempts", async () => {
    const [done, blocked, retried] = await enqueue(3);
    if (!done || !blocked || !retried) throw new Error("no operations");
    const runs: Run[] = [];
    const worker = start(
      scripted(
        {
          [blocked]: [{ kind: "blocked", retryInMs: 300 }],
          [retried]: [
            { kind: "retry", delayMs: 50, reason: "throttled" },
            { kind: "retry", delayMs: undefined, reason: "timeout" },
          ],
        },
        runs,
      ),
    );
    const queue = operationsQueue(connection(), testRedis().prefix);
    try {
      for (const id of [done, blocked, retried]) {
        await waitFor(async () => (await queue.getJob(id))?.isCompleted(), `job ${id} to complete`);
      }
      expect(runs.filter((r) => r.operationId === done)).toHaveLength(1);
      const blockedRuns = runs.filter((r) => r.operationId === blocked);
      expect(blockedRuns).toHaveLength(2);
      expect((blockedRuns[1]?.at ?? 0) - (blockedRuns[0]?.at ?? 0)).toBeGreaterThanOrEqual(250);
      expect(runs.filter((r) => r.operationId === retried).map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect((await queue.getJob(done))?.returnvalue).toBe("succeeded");
    } finally {
      await worker.stop();
      await queue.close();
    }
  });

  it("aborts running operations when the grace period ends and puts their jobs back", async () => {
    const [id] = await enqueue(1);
    if (!id) throw new Error("no operation");
    let started = false;
    let aborted = false;
    const worker = start(async (_deps, _id, _attempt, signal) => {
      started = true;
      await new Promise((_, reject) =>
        signal?.addEventListener("abort", () => {
          aborted = true;
          reject(signal.reason);
        }),
      );
      return { kind: "finished", state: "succeeded" };
    }, 200);
    const queue = operationsQueue(connection(), testRedis().prefix);
    try {
      await waitFor(async () => started, "the run to start");
      await worker.stop();
      expect(aborted).toBe(true);
      expect(["delayed", "waiting"]).toContain(await (await queue.getJob(id))?.getState());
    } finally {
      await queue.close();
    }
    // Another worker finishes it.
    const runs: Run[] = [];
    const next = start(scripted({}, runs));
    try {
      await waitFor(async () => (await queue.getJob(id))?.isCompleted(), "the released job to complete");
    } finally {
      await next.stop();
    }
  });

  it("finishes a SIGKILLed worker's job on another worker, exactly once", async () => {
    const [id] = await enqueue(1);
    if (!id) throw new Error("no operation");
    const { redis, prefix } = testRedis();
    const runsKey = `${prefix}:test:runs:${id}`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./fixtures/hanging-worker.ts", import.meta.url))],
      { env: { ...process.env, REDIS_URL: TEST_REDIS_URL, PREFIX: prefix }, stdio: "ignore" },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitFor(async () => (await redis.get(runsKey)) === "1", "the child to take the job", 30_000);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    const runs: Run[] = [];
    const worker = start(scripted({}, runs));
    const queue = operationsQueue(connection(), testRedis().prefix);
    try {
      await waitFor(async () => (await queue.getJob(id))?.isCompleted(), "the job to complete elsewhere");
      await new Promise((r) => setTimeout(r, 1200));
      expect(runs.filter((r) => r.operationId === id)).toHaveLength(1);
      expect(await redis.get(runsKey)).toBe("1");
    } finally {
      await worker.stop();
      await queue.close();
    }
  });

  it("leaves only ids in Redis: no key material, no credentials", async () => {
    const { redis, keys } = testRedis();
    const all = await keys();
    expect(all.length).toBeGreaterThan(0);
    const values: string[] = [];
    for (const key of all) {
      const type = await redis.type(key);
      if (type === "string") values.push((await redis.get(key)) ?? "");
      else if (type === "hash") {
        const fields = await redis.hgetall(key);
        values.push(JSON.stringify(fields));
        if (fields.data) {
          expect(
            Object.keys(JSON.parse(fields.data)).every((k) => ["operationId", "retries"].includes(k)),
          ).toBe(true);
        }
      } else if (type === "list") values.push(...(await redis.lrange(key, 0, -1)));
      else if (type === "zset") values.push(...(await redis.zrange(key, "0", "-1")));
      else if (type === "set") values.push(...(await redis.smembers(key)));
      else if (type === "stream") values.push(JSON.stringify(await redis.xrange(key, "-", "+")));
    }
    const text = values.join("\n");
    expect(text).not.toContain(SENTINEL);
    expect(text).not.toMatch(/BEGIN (RSA |EC )?PRIVATE KEY|secretAccessKey|clientSecret|sealed/i);
  });
});

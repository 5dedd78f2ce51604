import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startWorkerProcess } from "../../src/processes/worker.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import { accept, operationsQueue, silentLogger, waitFor } from "./helpers.js";

const database = useTestDatabase();
const testRedis = useTestRedis();

describe("worker process", () => {
  it("relays, runs and stops", async () => {
    const config = loadConfig({
      DATABASE_URL: database().url,
      REDIS_URL: TEST_REDIS_URL,
      KEYFERRY_REDIS_PREFIX: testRedis().prefix,
      KEYFERRY_ROOT_KEY: randomBytes(32).toString("base64"),
      KEYFERRY_SHUTDOWN_GRACE_MS: "1000",
    });
    const ran: string[] = [];
    const worker = await startWorkerProcess(config, silentLogger, {
      runOperation: async (_deps, operationId) => {
        ran.push(operationId);
        return { kind: "finished", state: "succeeded" };
      },
    });
    const queue = operationsQueue(testRedis().redis, testRedis().prefix);
    try {
      const id = await accept(database().db);
      worker.relay.nudge();
      await waitFor(async () => (await queue.getJob(id))?.isCompleted(), "the job to complete");
      expect(ran).toEqual([id]);
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});

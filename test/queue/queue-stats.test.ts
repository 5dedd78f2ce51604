import { describe, expect, it } from "vitest";
import { createDestinationLimits } from "../../src/queue/limits.js";
import { queueStats } from "../../src/queue/queue-stats.js";
import { useTestRedis } from "../helpers/redis.js";
import { operationsQueue } from "./helpers.js";

const testRedis = useTestRedis();

describe("queue stats", () => {
  it("reports job counts and each destination's limiter state as plain JSON", async () => {
    const { redis, prefix } = testRedis();
    const queue = operationsQueue(redis, prefix);
    await queue.add("operation", { operationId: "00000000-0000-4000-8000-000000000001" });
    const limits = createDestinationLimits(redis, prefix, {
      worker: { kmsConcurrency: 2, rateLimitScale: 1 },
    });
    const kms = { name: "aws-prod", provider: "awskms" as const, options: {} };
    await limits.acquire(kms, "CreateKey");
    const stats = await limits.withSlot(kms, () => queueStats(queue, redis, prefix));
    expect(stats.queues.operations?.waiting).toBe(1);
    expect(stats.destinations["aws-prod"]?.slotsInUse).toBe(1);
    expect(stats.destinations["aws-prod"]?.buckets.CreateKey).toBeCloseTo(4, 0);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    limits.stop();
    await queue.close();
  });
});

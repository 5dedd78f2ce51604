import type { Queue } from "bullmq";
import type { Redis } from "../redis.js";
import { limitKeys } from "./limits.js";

export interface DestinationLimiterState {
  /** Slots held now (unexpired leases). */
  slotsInUse: number;
  /** Tokens left per quota bucket, as last written (refill happens on the next take). */
  buckets: Record<string, number>;
}

export interface QueueStats {
  queues: Record<string, Record<string, number>>;
  destinations: Record<string, DestinationLimiterState>;
}

/** For `GET /v1/queues`: job counts per state and the shared limiter state of each destination (plain JSON). */
/** The job states reported per queue (BullMQ's getJobCounts; paused jobs count as waiting since BullMQ 5). */
export const QUEUE_STATES = [
  "waiting",
  "active",
  "delayed",
  "prioritized",
  "waiting-children",
  "completed",
  "failed",
] as const;

export async function queueStats(queue: Queue, redis: Redis, prefix: string): Promise<QueueStats> {
  const counts = await queue.getJobCounts(...QUEUE_STATES);
  const root = limitKeys.root(prefix);
  const destinations: Record<string, DestinationLimiterState> = {};
  const entry = (name: string) => {
    const existing = destinations[name];
    if (existing) return existing;
    const fresh: DestinationLimiterState = { slotsInUse: 0, buckets: {} };
    destinations[name] = fresh;
    return fresh;
  };
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(
      cursor,
      "MATCH",
      `${root.replace(/[*?[\]\\]/g, "\\$&")}*`,
      "COUNT",
      500,
    );
    cursor = next;
    for (const key of keys) {
      const [encoded, kind, bucket] = key.slice(root.length).split(":");
      if (!encoded) continue;
      const state = entry(decodeURIComponent(encoded));
      if (kind === "slots") {
        state.slotsInUse = await redis.zcount(key, Date.now(), "+inf");
      } else if (kind === "rate" && bucket) {
        const tokens = await redis.hget(key, "tokens");
        if (tokens !== null) state.buckets[bucket] = Math.floor(Number(tokens) * 100) / 100;
      }
    }
  } while (cursor !== "0");
  return { queues: { [queue.name]: counts }, destinations };
}

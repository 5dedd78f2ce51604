import { Redis } from "ioredis";

/**
 * A Redis connection as BullMQ needs it (no per-command retry limit: commands wait for a reconnect rather
 * than fail), which also suits keyferry's own use.
 */
export function connectRedis(url: string, connectionName = "keyferry"): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName,
    lazyConnect: false,
  });
}

export type { Redis };

/**
 * Redis's `maxmemory-policy`. Anything but `noeviction` lets Redis drop BullMQ's jobs and locks under memory
 * pressure. `unknown` when CONFIG is refused (managed Redis often renames or disables it).
 */
export async function evictionPolicy(redis: Redis): Promise<string> {
  try {
    const answer = (await redis.call("CONFIG", "GET", "maxmemory-policy")) as unknown;
    const pair = Array.isArray(answer) ? answer : [];
    return typeof pair[1] === "string" ? pair[1] : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * The eviction check of `/readyz` and of start-up: `strict` makes a policy other than `noeviction` a reason not
 * to be ready; `warn` only reports it. The policy is read at most every `refreshMs`.
 */
export interface EvictionCheck {
  /** Undefined when fine (or only warned about), else why not ready. */
  problem(): Promise<string | undefined>;
}

export function evictionCheck(
  redis: Redis,
  mode: "strict" | "warn",
  onBadPolicy: (policy: string, mode: "strict" | "warn") => void,
  refreshMs = 30_000,
): EvictionCheck {
  let checkedAt = 0;
  let policy: string | undefined;
  let reported: string | undefined;
  return {
    async problem() {
      if (policy === undefined || Date.now() - checkedAt > refreshMs) {
        const read = await evictionPolicy(redis);
        // A failed read while Redis is down says nothing new: keep the last answer.
        if (read !== "unknown" || policy === undefined) policy = read;
        checkedAt = Date.now();
      }
      if (policy !== "noeviction" && policy !== reported) {
        reported = policy;
        onBadPolicy(policy, mode);
      }
      if (mode === "strict" && policy !== "noeviction" && policy !== "unknown") {
        return `redis maxmemory-policy is ${policy}; keyferry needs noeviction`;
      }
      return undefined;
    },
  };
}

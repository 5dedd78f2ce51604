import type { Redis } from "ioredis";

/** Every value stored under `prefix`, whatever its type, as text: what a secrets scan looks through. */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === "string"
          ? await redis.get(key)
          : type === "hash"
            ? await redis.hgetall(key)
            : type === "list"
              ? await redis.lrange(key, 0, -1)
              : type === "set"
                ? await redis.smembers(key)
                : type === "zset"
                  ? await redis.zrange(key, "0", "-1", "WITHSCORES")
                  : type === "stream"
                    ? await redis.xrange(key, "-", "+")
                    : null;
      parts.push(`${key} ${JSON.stringify(value)}`);
    }
  } while (cursor !== "0");
  return parts.join("\n");
}

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

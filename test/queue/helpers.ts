import { Queue } from "bullmq";
import { eq } from "drizzle-orm";
import type { Database } from "../../src/db/client.js";
import { operations, outbox } from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { OPERATIONS_QUEUE, type OperationJobData } from "../../src/queue/names.js";
import type { Redis } from "../../src/redis.js";

export const silentLogger = createLogger({ level: "silent" });

export async function accept(db: Database): Promise<string> {
  const operation = await db.transaction((tx) => acceptOperation(tx, { type: "create", actor: "test" }));
  return operation.id;
}

export async function outboxRows(db: Database, operationId: string) {
  return db.select().from(outbox).where(eq(outbox.operationId, operationId));
}

export async function setState(db: Database, operationId: string, state: "queued" | "running" | "succeeded") {
  await db.update(operations).set({ state }).where(eq(operations.id, operationId));
}

export function operationsQueue(connection: Redis, prefix: string): Queue<OperationJobData> {
  return new Queue<OperationJobData>(OPERATIONS_QUEUE, { connection, prefix });
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

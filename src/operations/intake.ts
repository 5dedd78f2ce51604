import type { Queryable } from "../db/client.js";
import { type OperationType, operations, outbox } from "../db/schema/index.js";
import { appendToLedger } from "../ledger/append.js";
import { OPERATIONS_QUEUE } from "../queue/names.js";

export interface NewOperation {
  type: OperationType;
  keyId?: string | null;
  kmsId?: string | null;
  parentId?: string | null;
  /** The validated request, never secrets. */
  input?: Record<string, unknown>;
  /** The API token that asked for it. */
  requestedBy?: string | null;
  /** For the ledger: who asked (a token's name) and the names the entry is filed under. */
  actor: string;
  keyName?: string | null;
  kmsName?: string | null;
}

export type AcceptedOperation = typeof operations.$inferSelect;

/**
 * Accept an operation (SPEC section 6): the operation row, its first ledger entry and an outbox row, all in
 * the caller's transaction, so that an accepted request is never lost, also when Redis is down: the relay
 * moves the outbox row into the queue when it can. Children of a bulk operation are accepted the same way.
 */
export async function acceptOperation(tx: Queryable, request: NewOperation): Promise<AcceptedOperation> {
  const [operation] = await tx
    .insert(operations)
    .values({
      type: request.type,
      keyId: request.keyId ?? null,
      kmsId: request.kmsId ?? null,
      parentId: request.parentId ?? null,
      input: request.input ?? {},
      requestedBy: request.requestedBy ?? null,
    })
    .returning();
  if (!operation) throw new Error("inserting an operation returned no row");
  await tx.insert(outbox).values({ operationId: operation.id, queue: OPERATIONS_QUEUE });
  await appendToLedger(tx, {
    event: "operation.accepted",
    operationId: operation.id,
    keyName: request.keyName ?? null,
    kmsName: request.kmsName ?? null,
    actor: request.actor,
    data: {
      type: operation.type,
      input: operation.input,
      ...(request.parentId ? { parentId: request.parentId } : {}),
    },
  });
  return operation;
}

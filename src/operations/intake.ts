import { randomUUID } from "node:crypto";
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
  /** A bulk operation's child kept out of the queue until its parent releases it (no outbox row yet). */
  held?: boolean;
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
  const [operation] = await acceptOperations(tx, [request]);
  if (!operation) throw new Error("inserting an operation returned no row");
  return operation;
}

/** `acceptOperation` for many at once (a bulk operation's children): three statements, whatever the count. */
export async function acceptOperations(
  tx: Queryable,
  requests: readonly NewOperation[],
): Promise<AcceptedOperation[]> {
  if (requests.length === 0) return [];
  // Ids made here, so that each row is matched to its request whatever order RETURNING gives them in.
  const ids = requests.map(() => randomUUID());
  const rows = await tx
    .insert(operations)
    .values(
      requests.map((request, i) => ({
        id: ids[i],
        type: request.type,
        keyId: request.keyId ?? null,
        kmsId: request.kmsId ?? null,
        parentId: request.parentId ?? null,
        input: request.input ?? {},
        held: request.held === true,
        requestedBy: request.requestedBy ?? null,
      })),
    )
    .returning();
  const byId = new Map(rows.map((row) => [row.id, row]));
  const accepted = ids.map((id) => {
    const row = byId.get(id as string);
    if (!row) throw new Error("inserting operations returned too few rows");
    return row;
  });
  const queued = accepted.filter((operation) => !operation.held);
  if (queued.length > 0) {
    await tx
      .insert(outbox)
      .values(queued.map((operation) => ({ operationId: operation.id, queue: OPERATIONS_QUEUE })));
  }
  await appendToLedger(
    tx,
    accepted.map((operation, i) => {
      const request = requests[i] as NewOperation;
      return {
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
      };
    }),
  );
  return accepted;
}

import { randomUUID } from "node:crypto";
import { asc, inArray, sql } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { keys, type OperationType, operations, outbox } from "../db/schema/index.js";
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
  const keySeqs = await takeKeySequences(tx, requests);
  const rows = await tx
    .insert(operations)
    .values(
      requests.map((request, i) => ({
        id: ids[i],
        type: request.type,
        keyId: request.keyId ?? null,
        kmsId: request.kmsId ?? null,
        parentId: request.parentId ?? null,
        keySeq: keySeqs[i] ?? null,
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

/**
 * Each request's place among its key's operations: the key rows are locked (in id order, so that two bulk
 * intakes cannot deadlock) and their `op_seq` bumped, all in the caller's transaction. The lock is held to
 * commit, so a key's sequence numbers are given in the order its intakes commit, on whatever process: the
 * order its operations run in (src/operations/run.ts). `undefined` for requests without a key.
 */
export async function takeKeySequences(
  tx: Queryable,
  requests: readonly Pick<NewOperation, "keyId">[],
): Promise<(number | undefined)[]> {
  const counts = new Map<string, number>();
  for (const request of requests) {
    if (request.keyId) counts.set(request.keyId, (counts.get(request.keyId) ?? 0) + 1);
  }
  if (counts.size === 0) return requests.map(() => undefined);
  const keyIds = [...counts.keys()];
  await lockKeys(tx, keyIds);
  const bumps = sql.join(
    keyIds.map((id) => sql`(${id}::uuid, ${counts.get(id)}::bigint)`),
    sql`, `,
  );
  const bumped = await tx.execute<{ id: string; op_seq: string | number }>(sql`
    update ${keys} as k set op_seq = k.op_seq + v.n
    from (values ${bumps}) as v(id, n)
    where k.id = v.id
    returning k.id, k.op_seq`);
  // The first number each key gives out in this intake.
  const next = new Map<string, number>();
  for (const row of bumped.rows) {
    next.set(row.id, Number(row.op_seq) - (counts.get(row.id) ?? 0) + 1);
  }
  return requests.map((request) => {
    if (!request.keyId) return undefined;
    const seq = next.get(request.keyId);
    if (seq === undefined) throw new Error(`key ${request.keyId} of an operation does not exist`);
    next.set(request.keyId, seq + 1);
    return seq;
  });
}

/** Lock the keys' rows for the rest of the transaction, in id order (the one order every locker uses). */
export async function lockKeys(tx: Queryable, keyIds: readonly string[]): Promise<void> {
  if (keyIds.length === 0) return;
  await tx
    .select({ id: keys.id })
    .from(keys)
    .where(inArray(keys.id, [...keyIds]))
    .orderBy(asc(keys.id))
    .for("update");
}

/**
 * Operations that go back to `queued` (a retry) take new places at the end of their keys' orders, as a new
 * intake would: what was accepted meanwhile may be running, and must not find an "earlier" one start beside it.
 */
export async function resequence(
  tx: Queryable,
  rows: readonly { id: string; keyId: string | null }[],
): Promise<void> {
  const seqs = await takeKeySequences(tx, rows);
  const values = rows.flatMap((row, i) =>
    seqs[i] === undefined ? [] : [sql`(${row.id}::uuid, ${seqs[i]}::bigint)`],
  );
  if (values.length === 0) return;
  await tx.execute(sql`
    update ${operations} as o set key_seq = v.seq
    from (values ${sql.join(values, sql`, `)}) as v(id, seq)
    where o.id = v.id`);
}

import type { Transaction } from "../db/client.js";
import { type AcceptedOperation, acceptOperation, type NewOperation } from "../operations/intake.js";
import type { Caller } from "./auth.js";
import type { MutationAnswer } from "./idempotency.js";
import { operationView } from "./views.js";

/** The 202 answer of a route that accepted an operation: the operation, and a nudge for the relay. */
export async function acceptedAnswer(tx: Transaction, operation: AcceptedOperation): Promise<MutationAnswer> {
  return { status: 202, body: await operationView(tx, operation), operationId: operation.id, accepted: true };
}

/** Accept an operation on behalf of the caller (SPEC section 6) and answer 202 with it. */
export async function acceptForCaller(
  tx: Transaction,
  caller: Caller,
  request: Omit<NewOperation, "requestedBy" | "actor">,
): Promise<MutationAnswer> {
  const operation = await acceptOperation(tx, {
    ...request,
    requestedBy: caller.tokenId,
    actor: caller.name,
  });
  return acceptedAnswer(tx, operation);
}

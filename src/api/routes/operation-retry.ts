import { and, eq, inArray, like, sql } from "drizzle-orm";
import { operationSteps, operations, outbox } from "../../db/schema/index.js";
import { appendToLedger } from "../../ledger/append.js";
import { resequence } from "../../operations/intake.js";
import { REDISTRIBUTE_RESET_STEPS } from "../../operations/redistribute.js";
import { OPERATIONS_QUEUE } from "../../queue/names.js";
import { acceptedAnswer } from "../accept.js";
import { conflict } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { accepted, idParamsSchema, mutationErrors, notFound } from "../schemas.js";
import { findOperation } from "./operation.js";

/**
 * `POST /v1/operations/{id}/retry`: a failed operation, and the failed children of a bulk one, go back to
 * `queued` with a new outbox row each, in one transaction with a ledger entry, exactly like an intake. The
 * steps that succeeded stay succeeded: the engine resumes from the first unfinished one.
 */
export function registerOperationRetryRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/operations/:id/retry",
    {
      config: { access: "operate", what: "retry operations" },
      schema: {
        ...mutationDocs(
          "operations",
          "Re-run a failed operation (or the failed children of a bulk one)",
          "Steps that succeeded stay done. 409 `operation_not_failed`.",
        ),
        params: idParamsSchema,
        response: { ...accepted, ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const operation = await findOperation(tx, request.params.id, { forUpdate: true });
        if (operation.state !== "failed") {
          throw conflict(
            "operation_not_failed",
            `operation ${operation.id} is ${operation.state}; only failed operations are retried`,
          );
        }
        const now = sql`now()`;
        const reset = { state: "queued" as const, error: null, finishedAt: null, updatedAt: now };
        // The failed children wait for their parent to hand them to the queue a few at a time, as a run does.
        const children = await tx
          .update(operations)
          .set({ ...reset, held: true })
          .where(and(eq(operations.parentId, operation.id), eq(operations.state, "failed")))
          .returning({ id: operations.id, keyId: operations.keyId });
        await tx.update(operations).set(reset).where(eq(operations.id, operation.id));
        await resequence(tx, [operation, ...children]);
        await tx.insert(outbox).values({ operationId: operation.id, queue: OPERATIONS_QUEUE });
        const requeued = [operation, ...children];
        if (operation.type === "redistribute") {
          // The run's shared objects (an Azure KEK) are made again by the retried children and must be
          // released again at the end.
          await tx
            .delete(operationSteps)
            .where(
              and(
                eq(operationSteps.operationId, operation.id),
                like(operationSteps.name, REDISTRIBUTE_RESET_STEPS),
              ),
            );
        }
        await appendToLedger(tx, {
          event: "operation.retried",
          operationId: operation.id,
          actor: caller.name,
          data: { requeued: requeued.length },
        });
        const [row] = await tx
          .select()
          .from(operations)
          .where(inArray(operations.id, [operation.id]));
        return acceptedAnswer(tx, row ?? operation);
      }),
  );
}

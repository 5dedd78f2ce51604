import { and, eq, inArray, sql } from "drizzle-orm";
import { operations } from "../../db/schema/index.js";
import { appendToLedger } from "../../ledger/append.js";
import { conflict } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { accepted, idParamsSchema, mutationErrors, notFound } from "../schemas.js";
import { operationView } from "../views.js";
import { findOperation } from "./operation.js";

/**
 * `POST /v1/operations/{id}/cancel`. A queued operation becomes `canceled` at once (a worker that picks its
 * job up finds it final and does nothing). A running bulk operation is stopped between steps by canceling
 * its queued children; the parent finishes when the running ones do. A running single operation cannot be
 * stopped half-way (409 `operation_running`).
 */
/** Operations that work through children: running ones can be stopped between children. */
const BULK_TYPES = new Set<string>(["redistribute"]);

export function registerOperationCancelRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/operations/:id/cancel",
    {
      config: { access: "operate", what: "cancel operations" },
      schema: {
        ...mutationDocs(
          "operations",
          "Cancel a queued operation, or the queued rest of a running bulk one",
          "409 `operation_running` (a running single operation) or `operation_finished`.",
        ),
        params: idParamsSchema,
        response: { ...accepted, ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const operation = await findOperation(tx, request.params.id, { forUpdate: true });
        const children = await tx
          .select({ id: operations.id })
          .from(operations)
          .where(eq(operations.parentId, operation.id))
          .limit(1);
        const bulk = children.length > 0 || BULK_TYPES.has(operation.type);
        if (operation.state !== "queued" && !(operation.state === "running" && bulk)) {
          throw conflict(
            operation.state === "running" ? "operation_running" : "operation_finished",
            `operation ${operation.id} is ${operation.state} and cannot be canceled`,
          );
        }
        const now = sql`now()`;
        const canceled = await tx
          .update(operations)
          .set({ state: "canceled", finishedAt: now, updatedAt: now })
          .where(and(eq(operations.parentId, operation.id), eq(operations.state, "queued")))
          .returning({ id: operations.id });
        if (operation.state === "queued") {
          await tx
            .update(operations)
            .set({ state: "canceled", finishedAt: now, updatedAt: now })
            .where(eq(operations.id, operation.id));
        } else {
          // The running parent plans no more children and ends canceled once the running ones have finished.
          await tx
            .update(operations)
            .set({ cancelRequestedAt: now, updatedAt: now })
            .where(eq(operations.id, operation.id));
        }
        await appendToLedger(tx, {
          event: operation.state === "queued" ? "operation.canceled" : "operation.cancel_requested",
          operationId: operation.id,
          actor: caller.name,
          data: { previousState: operation.state, canceledChildren: canceled.length },
        });
        const ids = [operation.id];
        const [row] = await tx.select().from(operations).where(inArray(operations.id, ids));
        return { status: 202, body: await operationView(tx, row ?? operation), operationId: operation.id };
      }),
  );
}

import { z } from "zod";
import { acceptForCaller } from "../accept.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { findKms } from "../lookups.js";
import { accepted, bodyErrors, kmsNameSchema, mutationErrors, notFound } from "../schemas.js";

const params = z.strictObject({ kms: kmsNameSchema });
const body = z
  .strictObject({
    heal: z
      .boolean()
      .optional()
      .describe("also bring the destination back to the ledger's state (default false: report only)"),
  })
  .nullish()
  .meta({ examples: [{ heal: false }, { heal: true }] });

/**
 * `POST /v1/kms/{kms}/reconcile`: a drift check of one destination (src/operations/reconcile.ts). Operator
 * access for both forms: with `heal` it changes the cloud (recovers, re-imports, enables and disables keys).
 */
export function registerKmsReconcileRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/kms/:kms/reconcile",
    {
      config: { access: "operate", what: "reconcile destinations" },
      schema: {
        ...mutationDocs(
          "kms",
          "Check a destination for drift, and with heal repair it",
          "Compares what the ledger records with what the destination holds: `missing_copy`, `missing_version`, " +
            "`extra_version`, `state_mismatch`, `pending_deletion`, `untracked`. The findings are the `result` " +
            "of the operation's step `compare@<kms>` (each with `healed` when `heal` repaired it). Keys with " +
            "operations in flight are skipped and listed as such. With `heal`, deletions are cancelled or " +
            "recovered, missing copies and versions imported again from custody, states set per " +
            "`minEnabledVersion`, and extra versions and untracked keys disabled, never deleted.",
        ),
        params,
        body,
        response: { ...accepted, ...mutationErrors, ...bodyErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const destination = await findKms(tx, request.params.kms);
        return acceptForCaller(tx, caller, {
          type: "reconcile",
          kmsId: destination.id,
          input: { heal: request.body?.heal === true },
          kmsName: destination.name,
        });
      }),
  );
}

import { inArray } from "drizzle-orm";
import { z } from "zod";
import { keys } from "../../db/schema/index.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { RedistributeInput } from "../../operations/redistribute-input.js";
import { keySelectionSchema } from "../../operations/redistribute-input.js";
import { acceptForCaller } from "../accept.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { findKms } from "../lookups.js";
import {
  accepted,
  bodyErrors,
  kmsNameSchema,
  mutationErrors,
  notFound,
  protectionSchema,
  purposeSchema,
} from "../schemas.js";

const body = z
  .strictObject({
    to: z
      .union([kmsNameSchema, z.array(kmsNameSchema).min(1).max(16)])
      .describe("the destination(s) that receive a copy of every selected key"),
    keys: keySelectionSchema
      .optional()
      .describe("`{all: true}`, `{names: [...]}` or `{prefix}`; absent: what `from` held, or all keys"),
    from: kmsNameSchema
      .optional()
      .describe("an old destination to mirror: its keys, purposes and protection (read from the ledger)"),
    purposes: z.array(purposeSchema).min(1).max(6).optional().describe("purposes of every new copy"),
    protection: protectionSchema.optional().describe("protection of every new copy"),
  })
  .meta({
    examples: [
      { to: ["aws-dr"], keys: { prefix: "payments-" } },
      { to: ["aws-dr", "azure-dr"], from: "aws-prod" },
    ],
  });

/**
 * `POST /v1/redistributions` (disaster recovery): a parent operation that plans one `distribute` child per
 * key × destination and finishes when they have (src/operations/redistribute.ts). Keys a destination already
 * holds are skipped, so a repeated redistribution only does what is missing.
 */
export function registerRedistributionsRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/redistributions",
    {
      config: { access: "operate", what: "redistribute keys" },
      schema: {
        ...mutationDocs(
          "operations",
          "Redistribute keys in bulk to one or more destinations",
          "Answers a parent operation whose `progress` counts its children ({done, failed, total, etaSeconds}); " +
            "`GET /v1/operations?parent={id}` lists them, `POST /v1/operations/{id}/cancel` stops the rest, " +
            "`POST /v1/operations/{id}/retry` re-runs the failed ones. 404 names an unknown destination; 422 " +
            "`keys_not_found` lists unknown key names, `from_is_destination` refuses `from` among `to`.",
        ),
        body,
        response: { ...accepted, ...mutationErrors, ...bodyErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const names = [...new Set(Array.isArray(request.body.to) ? request.body.to : [request.body.to])];
        const to = [];
        for (const name of names) to.push(await findKms(tx, name));
        const from = request.body.from === undefined ? undefined : await findKms(tx, request.body.from);
        if (from && to.some((d) => d.id === from.id)) {
          throw new InvalidInputError("from_is_destination", `kms ${from.name} cannot be both from and to`);
        }
        const selection = request.body.keys;
        if (selection && "names" in selection) {
          const wanted = [...new Set(selection.names)];
          const found = await tx.select({ name: keys.name }).from(keys).where(inArray(keys.name, wanted));
          const known = new Set(found.map((k) => k.name));
          const unknown = wanted.filter((name) => !known.has(name));
          if (unknown.length > 0) {
            throw new InvalidInputError("keys_not_found", `${unknown.length} named keys do not exist`, {
              keys: unknown.slice(0, 20),
            });
          }
        }
        const input: RedistributeInput = {
          to: to.map((d) => ({ id: d.id, name: d.name })),
          ...(from ? { from: { id: from.id, name: from.name } } : {}),
          ...(selection ? { keys: selection } : {}),
          ...(request.body.purposes ? { purposes: [...new Set(request.body.purposes)] } : {}),
          ...(request.body.protection ? { protection: request.body.protection } : {}),
        };
        const [single] = to;
        return acceptForCaller(tx, caller, {
          type: "redistribute",
          kmsId: to.length === 1 && single ? single.id : null,
          input,
          kmsName: to.length === 1 && single ? single.name : null,
        });
      }),
  );
}

import { and, asc, eq, gt } from "drizzle-orm";
import { z } from "zod";
import { ledgerEntries } from "../../db/schema/index.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { answer, commonErrors, keyNameSchema, kmsNameSchema, limitSchema } from "../schemas.js";

/** `GET /v1/ledger?key=&kms=&operation=&after=`: chained entries in `seq` order, paged by `after`. */

const listQuery = z.strictObject({
  key: keyNameSchema.optional(),
  kms: kmsNameSchema.optional(),
  operation: z.uuid().optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: limitSchema,
});

/** A ledger entry as answered; the dashboard's overview shows the same without data and hashes. */
export const entrySchema = z.object({
  seq: z.number().int(),
  recordedAt: z.string(),
  event: z.string(),
  operationId: z.string().nullable(),
  key: z.string().nullable(),
  kms: z.string().nullable(),
  actor: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export function registerLedgerRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/ledger",
    {
      config: { access: "read", what: "read the ledger" },
      schema: {
        ...docs(
          "ledger",
          "Ledger entries, oldest first",
          "Pass the last `seq` as `after` for the next page.",
        ),
        querystring: listQuery,
        response: {
          200: answer(
            "one page of entries; `next` is the `after` of the next page, null on the last",
            z.object({ items: z.array(entrySchema), next: z.number().int().nullable() }),
          ),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await ctx.db
        .select()
        .from(ledgerEntries)
        .where(
          and(
            q.after !== undefined ? gt(ledgerEntries.seq, q.after) : undefined,
            q.key ? eq(ledgerEntries.keyName, q.key) : undefined,
            q.kms ? eq(ledgerEntries.kmsName, q.kms) : undefined,
            q.operation ? eq(ledgerEntries.operationId, q.operation) : undefined,
          ),
        )
        .orderBy(asc(ledgerEntries.seq))
        .limit(q.limit);
      const last = rows.at(-1);
      return {
        items: rows.map((r) => ({
          seq: r.seq,
          recordedAt: r.recordedAt.toISOString(),
          event: r.event,
          operationId: r.operationId,
          key: r.keyName,
          kms: r.kmsName,
          actor: r.actor,
          data: r.data,
          prevHash: r.prevHash.toString("hex"),
          hash: r.hash.toString("hex"),
        })),
        next: rows.length === q.limit && last ? last.seq : null,
      };
    },
  );
}

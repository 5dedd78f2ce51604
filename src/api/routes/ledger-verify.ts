import { z } from "zod";
import { verifyLedger } from "../../ledger/verify.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { answer, commonErrors } from "../schemas.js";

/** `GET /v1/ledger/verify`: recompute the hash chain; name the first entry that does not match. */

const verifySchema = z.union([
  z.object({ ok: z.literal(true), entries: z.number().int(), head: z.string().nullable() }),
  z.object({
    ok: z.literal(false),
    entries: z.number().int(),
    firstBadSeq: z.number().int(),
    reason: z.string(),
  }),
]);

export function registerLedgerVerifyRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/ledger/verify",
    {
      config: { access: "read", what: "verify the ledger" },
      schema: {
        ...docs(
          "ledger",
          "Verify the ledger's hash chain",
          "`{ok, entries, head}` or `{ok:false, firstBadSeq}`.",
        ),
        querystring: z.strictObject({}),
        response: {
          200: answer("the verdict: also 200 when the chain is broken (`ok: false`)", verifySchema),
          ...commonErrors,
        },
      },
    },
    async () => verifyLedger(ctx.db),
  );
}

import { and, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { apiTokens } from "../../db/schema/index.js";
import { appendToLedger } from "../../ledger/append.js";
import { conflict, notFound as missing } from "../api-error.js";
import { BOOTSTRAP_TOKEN_ID } from "../auth.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { idParamsSchema, mutationErrors, notFound } from "../schemas.js";

/** `DELETE /v1/tokens/{id}`: revoke (the row stays, for the ledger and `createdBy`). */
export function registerTokenRoutes(app: ApiApp, ctx: ApiContext): void {
  app.delete(
    "/v1/tokens/:id",
    {
      config: { access: "admin", what: "manage tokens" },
      schema: {
        ...mutationDocs(
          "tokens",
          "Revoke a token",
          "The bootstrap admin token is revoked by unsetting KEYFERRY_ADMIN_TOKEN (409 `bootstrap_token`).",
        ),
        params: idParamsSchema,
        response: { 204: z.null().describe("revoked"), ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const { id } = request.params;
        if (id === BOOTSTRAP_TOKEN_ID) {
          throw conflict(
            "bootstrap_token",
            "the bootstrap admin token comes from KEYFERRY_ADMIN_TOKEN; unset it there",
          );
        }
        const [row] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id));
        if (!row) throw missing(`no token ${id}`);
        const revoked = await tx
          .update(apiTokens)
          .set({ revokedAt: sql`now()` })
          .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
          .returning({ id: apiTokens.id });
        if (revoked.length > 0) {
          await appendToLedger(tx, {
            event: "token.revoked",
            actor: caller.name,
            data: { tokenId: id, name: row.name, role: row.role },
          });
        }
        return { status: 204, body: null };
      }),
  );
}

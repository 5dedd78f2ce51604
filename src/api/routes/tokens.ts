import { asc } from "drizzle-orm";
import { z } from "zod";
import { apiTokens } from "../../db/schema/index.js";
import { issueToken } from "../../tokens/issue.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { answer, bodyErrors, commonErrors, mutationErrors, roleSchema } from "../schemas.js";

/**
 * `POST /v1/tokens` (issue; the secret is in this answer only) and `GET /v1/tokens` (admin only). Only the
 * SHA-256 of a secret is stored. A replay of an idempotent issue answers the same token without its secret:
 * the secret is never written anywhere, so a client that lost the first answer revokes the token and asks
 * for another.
 */

const createBody = z
  .strictObject({
    role: roleSchema,
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\p{Cc}]+$/u, "no control characters"),
  })
  .meta({ examples: [{ role: "operator", name: "ci-pipeline" }] });

export const tokenSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  role: roleSchema,
  prefix: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

const createdSchema = tokenSchema.extend({
  secret: z.string().optional().describe("shown once: absent on an Idempotent-Replayed answer"),
});

type TokenRow = typeof apiTokens.$inferSelect;

function tokenView(row: TokenRow): z.infer<typeof tokenSchema> {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

export function registerTokensRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/tokens",
    {
      config: { access: "admin", what: "manage tokens" },
      schema: {
        ...mutationDocs(
          "tokens",
          "Issue a token (the secret is shown once)",
          "Only the secret's SHA-256 is stored: a replay answers the token without its secret.",
        ),
        body: createBody,
        response: {
          201: answer("issued; `secret` is in this answer only", createdSchema),
          ...mutationErrors,
          ...bodyErrors,
        },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const { row, secret } = await issueToken(tx, {
          name: request.body.name,
          role: request.body.role,
          createdBy: caller.tokenId,
          actor: caller.name,
        });
        const view = tokenView(row);
        return { status: 201, body: { ...view, secret }, storedBody: view };
      }),
  );

  app.get(
    "/v1/tokens",
    {
      config: { access: "admin", what: "list tokens" },
      schema: {
        ...docs("tokens", "List tokens (never their secrets)"),
        querystring: z.strictObject({}),
        response: {
          200: answer("every token, revoked ones too", z.object({ items: z.array(tokenSchema) })),
          ...commonErrors,
        },
      },
    },
    async () => {
      const rows = await ctx.db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
      return { items: rows.map(tokenView) };
    },
  );
}

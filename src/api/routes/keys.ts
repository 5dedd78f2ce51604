import { and, asc, gt, ne } from "drizzle-orm";
import { z } from "zod";
import { keys } from "../../db/schema/index.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import { acceptForCaller } from "../accept.js";
import { conflict } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { keySummarySchema, keySummaryView, MIN_ROTATION_SECONDS } from "../key-views.js";
import { findKey } from "../lookups.js";
import {
  accepted,
  answer,
  bodyErrors,
  commonErrors,
  keyNameSchema,
  keyTypeSchema,
  limitSchema,
  mutationErrors,
  rotationPeriodSchema,
} from "../schemas.js";
import { parseRotationPeriod } from "../views.js";

/** `POST /v1/keys` (create: the key row in state `creating` and a `create` operation) and `GET /v1/keys`. */

const createBody = z
  .strictObject({
    name: keyNameSchema,
    type: keyTypeSchema,
    deletionAllowed: z.boolean().optional().describe("default false: the key can never be deleted"),
    rotationPeriod: rotationPeriodSchema.optional().describe("rotate on a schedule, at least 1h"),
    offlineExport: z
      .boolean()
      .optional()
      .describe("allow POST /v1/keys/{name}/export (admin); default false"),
  })
  .meta({ examples: [{ name: "payments-db", type: "rsa-3072", rotationPeriod: "90d" }] });

const listQuery = z.strictObject({ after: keyNameSchema.optional(), limit: limitSchema });

export function rotationSeconds(period: string): number {
  const seconds = parseRotationPeriod(period);
  if (seconds < MIN_ROTATION_SECONDS) {
    throw new InvalidInputError("rotation_period_too_short", "rotationPeriod must be at least 1h", {
      field: "rotationPeriod",
    });
  }
  return seconds;
}

export function registerKeysRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/keys",
    {
      config: { access: "operate", what: "create keys" },
      schema: {
        ...mutationDocs("keys", "Create a key (generates version 1)", "409 `key_exists` for a taken name."),
        body: createBody,
        response: { ...accepted, ...mutationErrors, ...bodyErrors },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const body = request.body;
        const rotationPeriodSeconds = body.rotationPeriod ? rotationSeconds(body.rotationPeriod) : null;
        const existing = await findKey(tx, body.name).catch(() => undefined);
        if (existing) throw conflict("key_exists", `a key named ${body.name} exists`);
        const [key] = await tx
          .insert(keys)
          .values({
            name: body.name,
            type: body.type,
            state: "creating",
            deletionAllowed: body.deletionAllowed ?? false,
            rotationPeriodSeconds,
            offlineExport: body.offlineExport ?? false,
          })
          .onConflictDoNothing({ target: keys.name })
          .returning();
        if (!key) throw conflict("key_name_taken", `the name ${body.name} is taken by a key being deleted`);
        return acceptForCaller(tx, caller, {
          type: "create",
          keyId: key.id,
          input: {
            name: key.name,
            type: key.type,
            deletionAllowed: key.deletionAllowed,
            rotationPeriodSeconds,
            offlineExport: key.offlineExport,
          },
          keyName: key.name,
        });
      }),
  );

  app.get(
    "/v1/keys",
    {
      config: { access: "read", what: "list keys" },
      schema: {
        ...docs("keys", "List keys, by name", "Paged: pass the last name as `after`."),
        querystring: listQuery,
        response: {
          200: answer(
            "one page of keys; `next` is the `after` of the next page, null on the last",
            z.object({ items: z.array(keySummarySchema), next: z.string().nullable() }),
          ),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const { after, limit } = request.query;
      const rows = await ctx.db
        .select()
        .from(keys)
        .where(and(ne(keys.state, "deleted"), after ? gt(keys.name, after) : undefined))
        .orderBy(asc(keys.name))
        .limit(limit);
      const last = rows.at(-1);
      return { items: rows.map(keySummaryView), next: rows.length === limit && last ? last.name : null };
    },
  );
}

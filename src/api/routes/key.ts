import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { distributions, keyVersions, kms } from "../../db/schema/index.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import { acceptForCaller } from "../accept.js";
import { conflict } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { keySchema, keySummaryView } from "../key-views.js";
import { findKey, LIVE_DISTRIBUTION } from "../lookups.js";
import {
  accepted,
  answer,
  bodyErrors,
  commonErrors,
  keyParamsSchema,
  mutationErrors,
  notFound,
  rotationPeriodSchema,
} from "../schemas.js";
import { distributionViews } from "../views.js";
import { rotationSeconds } from "./keys.js";

/** `GET`, `PATCH` (an `update` operation) and `DELETE` (a `delete` operation) of `/v1/keys/{name}`. */

const patchBody = z
  .strictObject({
    minEnabledVersion: z.number().int().min(1).optional(),
    deletionAllowed: z.boolean().optional(),
    rotationPeriod: rotationPeriodSchema.nullable().optional(),
  })
  .refine(
    (b) => Object.keys(b).length > 0,
    "give at least one of minEnabledVersion, deletionAllowed, rotationPeriod",
  )
  .meta({ examples: [{ minEnabledVersion: 2 }, { rotationPeriod: null, deletionAllowed: true }] });

function publicKeyPem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

export function registerKeyRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/keys/:name",
    {
      config: { access: "read", what: "read keys" },
      schema: {
        ...docs("keys", "Read a key: versions (public keys as PEM) and distributions"),
        params: keyParamsSchema,
        response: {
          200: answer("the key, its versions and its live distributions", keySchema),
          ...commonErrors,
          ...notFound,
        },
      },
    },
    async (request) => {
      const key = await findKey(ctx.db, request.params.name);
      const versions = await ctx.db
        .select({
          version: keyVersions.version,
          createdAt: keyVersions.createdAt,
          publicKey: keyVersions.publicKey,
        })
        .from(keyVersions)
        .where(eq(keyVersions.keyId, key.id))
        .orderBy(asc(keyVersions.version));
      return {
        ...keySummaryView(key),
        versions: Object.fromEntries(
          versions.map((v) => [
            String(v.version),
            {
              createdAt: v.createdAt.toISOString(),
              ...(v.publicKey ? { publicKey: publicKeyPem(v.publicKey) } : {}),
            },
          ]),
        ),
        distributions: await distributionViews(
          ctx.db,
          and(eq(distributions.keyId, key.id), LIVE_DISTRIBUTION),
        ),
      };
    },
  );

  app.patch(
    "/v1/keys/:name",
    {
      config: { access: "operate", what: "update keys" },
      schema: {
        ...mutationDocs(
          "keys",
          "Update minEnabledVersion, deletionAllowed or rotationPeriod, everywhere",
          "`rotationPeriod: null` stops scheduled rotation; 422 `min_enabled_version_too_high` above the latest.",
        ),
        params: keyParamsSchema,
        body: patchBody,
        response: { ...accepted, ...mutationErrors, ...bodyErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const key = await findKey(tx, request.params.name, { forUpdate: true });
        if (key.state === "deleting") throw conflict("key_deleting", `key ${key.name} is being deleted`);
        const body = request.body;
        if (body.minEnabledVersion !== undefined && body.minEnabledVersion > Math.max(key.latestVersion, 1)) {
          throw new InvalidInputError(
            "min_enabled_version_too_high",
            `minEnabledVersion ${body.minEnabledVersion} is above the latest version ${key.latestVersion}`,
            { field: "minEnabledVersion", latestVersion: key.latestVersion },
          );
        }
        const input: Record<string, unknown> = {};
        if (body.minEnabledVersion !== undefined) input.minEnabledVersion = body.minEnabledVersion;
        if (body.deletionAllowed !== undefined) input.deletionAllowed = body.deletionAllowed;
        if (body.rotationPeriod !== undefined) {
          input.rotationPeriodSeconds =
            body.rotationPeriod === null ? null : rotationSeconds(body.rotationPeriod);
        }
        return acceptForCaller(tx, caller, {
          type: "update",
          keyId: key.id,
          input,
          keyName: key.name,
        });
      }),
  );

  app.delete(
    "/v1/keys/:name",
    {
      config: { access: "operate", what: "delete keys" },
      schema: {
        ...mutationDocs(
          "keys",
          "Delete a key (only when deletionAllowed and distributed nowhere)",
          "409 `deletion_not_allowed` or `key_distributed` otherwise.",
        ),
        params: keyParamsSchema,
        response: { ...accepted, ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const key = await findKey(tx, request.params.name, { forUpdate: true });
        if (!key.deletionAllowed) {
          throw conflict(
            "deletion_not_allowed",
            `key ${key.name} does not allow deletion (deletionAllowed is false)`,
          );
        }
        const live = await tx
          .select({ kms: kms.name })
          .from(distributions)
          .innerJoin(kms, eq(kms.id, distributions.kmsId))
          .where(and(eq(distributions.keyId, key.id), LIVE_DISTRIBUTION));
        if (live.length > 0) {
          throw conflict("key_distributed", `key ${key.name} is still distributed; remove its copies first`, {
            kms: live.map((l) => l.kms),
          });
        }
        return acceptForCaller(tx, caller, {
          type: "delete",
          keyId: key.id,
          input: { name: key.name },
          keyName: key.name,
        });
      }),
  );
}

import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { seal } from "../../crypto/seal.js";
import { distributions, kms } from "../../db/schema/index.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import {
  awsCredentialsSchema,
  azureCredentialsSchema,
  checkProviderOptions,
  kmsOptionsSchema,
} from "../../kms/options.js";
import { appendToLedger } from "../../ledger/append.js";
import { isLoopback } from "../../providers/loopback.js";
import { conflict, notFound as missing } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { kmsSchema, kmsView } from "../kms-views.js";
import { findKms, LIVE_DISTRIBUTION } from "../lookups.js";
import { answer, bodyErrors, commonErrors, kmsParamsSchema, mutationErrors, notFound } from "../schemas.js";

/**
 * `PUT`, `GET`, `DELETE /v1/kms/{name}`. Credentials are sealed under the current root key (purpose
 * `kms-credentials`, name = kms name) and never returned. On an update, absent `credentials` keep the
 * sealed ones (an operator changing a rate limit should not have to resend secrets); `null` clears them
 * (the SDK's default chain).
 */

const keyCollection = z.string().min(1).max(512);
const putBody = z
  .discriminatedUnion("provider", [
    z.strictObject({
      provider: z.literal("awskms"),
      keyCollection,
      credentials: awsCredentialsSchema.nullable().optional(),
      options: kmsOptionsSchema.optional(),
    }),
    z.strictObject({
      provider: z.literal("azurekeyvault"),
      keyCollection,
      credentials: azureCredentialsSchema.nullable().optional(),
      options: kmsOptionsSchema.optional(),
    }),
  ])
  .meta({
    examples: [
      {
        provider: "awskms",
        keyCollection: "eu-west-1",
        credentials: { accessKeyId: "AKIA...", secretAccessKey: "..." },
      },
      { provider: "azurekeyvault", keyCollection: "contoso-prod" },
      { provider: "awskms", keyCollection: "eu-west-1", options: { endpoint: "http://127.0.0.1:4599" } },
    ],
  });

/** Plain http only towards loopback hosts (the emulators), as SPEC section 4 says. */
function checkEndpoints(body: z.infer<typeof putBody>): void {
  const urls: Array<[string, string]> = [];
  if (body.options?.endpoint) urls.push(["options.endpoint", body.options.endpoint]);
  if (/^[a-z]+:\/\//i.test(body.keyCollection)) urls.push(["keyCollection", body.keyCollection]);
  for (const [field, text] of urls) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new InvalidInputError("invalid_url", `${field} is not a URL`, { field });
    }
    const local = isLoopback(url.hostname);
    if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
      throw new InvalidInputError(
        "insecure_endpoint",
        `${field} must use https (plain http only for loopback hosts)`,
        {
          field,
        },
      );
    }
  }
}

export function registerKmsRoutes(app: ApiApp, ctx: ApiContext): void {
  app.put(
    "/v1/kms/:name",
    {
      config: { access: "admin", what: "manage kms destinations" },
      schema: {
        ...mutationDocs(
          "kms",
          "Create (201) or update (200) a destination; credentials are sealed, never returned",
          "Absent `credentials` on an update keep the sealed ones; `null` clears them (the SDK's default " +
            "chain). 422 `insecure_endpoint`: plain http only for loopback hosts (the emulators). 409 " +
            "`kms_in_use` when the provider would change under live copies.",
        ),
        params: kmsParamsSchema,
        body: putBody,
        response: {
          200: answer("updated", kmsSchema),
          201: answer("created", kmsSchema),
          ...mutationErrors,
          ...bodyErrors,
        },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const { name } = request.params;
        const body = request.body;
        checkEndpoints(body);
        checkProviderOptions(body.provider, body.keyCollection, body.options ?? {});
        const [existing] = await tx.select().from(kms).where(eq(kms.name, name)).for("update");
        let sealed: { sealedCredentials: Buffer | null; credentialsRootKeyId: string | null } | undefined;
        if (body.credentials) {
          const plaintext = Buffer.from(JSON.stringify(body.credentials), "utf8");
          try {
            sealed = {
              sealedCredentials: seal(ctx.ring.current, plaintext, { purpose: "kms-credentials", name }),
              credentialsRootKeyId: ctx.ring.current.id,
            };
          } finally {
            plaintext.fill(0);
          }
        } else if (body.credentials === null || !existing) {
          sealed = { sealedCredentials: null, credentialsRootKeyId: null };
        }
        const credentials = body.credentials
          ? "set"
          : body.credentials === null || !existing
            ? "none"
            : "unchanged";
        const fields = {
          provider: body.provider,
          keyCollection: body.keyCollection,
          options: body.options ?? {},
        };
        if (existing && existing.provider !== body.provider) {
          const [live] = await tx
            .select({ id: distributions.id })
            .from(distributions)
            .where(and(eq(distributions.kmsId, existing.id), LIVE_DISTRIBUTION))
            .limit(1);
          if (live) throw conflict("kms_in_use", `kms ${name} holds copies: its provider cannot change`);
        }
        const [row] = existing
          ? await tx
              .update(kms)
              .set({
                ...fields,
                ...(sealed ?? {}),
                revision: sql`${kms.revision} + 1`,
                updatedAt: sql`now()`,
              })
              .where(eq(kms.id, existing.id))
              .returning()
          : await tx
              .insert(kms)
              .values({ name, ...fields, ...(sealed ?? {}) })
              .returning();
        if (!row) throw new Error("writing a kms returned no row");
        await appendToLedger(tx, {
          event: existing ? "kms.updated" : "kms.created",
          kmsName: name,
          actor: caller.name,
          data: { ...fields, credentials, revision: row.revision },
        });
        return { status: existing ? 200 : 201, body: kmsView(row) };
      }),
  );

  app.get(
    "/v1/kms/:name",
    {
      config: { access: "read", what: "read kms destinations" },
      schema: {
        ...docs("kms", "Read a destination (never its credentials)"),
        params: kmsParamsSchema,
        response: { 200: answer("the destination", kmsSchema), ...commonErrors, ...notFound },
      },
    },
    async (request) => kmsView(await findKms(ctx.db, request.params.name)),
  );

  app.delete(
    "/v1/kms/:name",
    {
      config: { access: "admin", what: "manage kms destinations" },
      schema: {
        ...mutationDocs("kms", "Delete a destination (409 kms_in_use while keys are distributed there)"),
        params: kmsParamsSchema,
        response: { 204: z.null().describe("deleted"), ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const row = await findKms(tx, request.params.name, { forUpdate: true }).catch(() => undefined);
        if (!row) throw missing(`no kms named ${request.params.name}`);
        const live = await tx
          .select({ id: distributions.id })
          .from(distributions)
          .where(and(eq(distributions.kmsId, row.id), LIVE_DISTRIBUTION))
          .limit(1);
        if (live.length > 0) {
          throw conflict("kms_in_use", `keys are distributed to kms ${row.name}; remove them first`);
        }
        // Removed copies are history the ledger keeps; their rows would pin the destination.
        await tx.delete(distributions).where(eq(distributions.kmsId, row.id));
        await tx.delete(kms).where(eq(kms.id, row.id));
        await appendToLedger(tx, { event: "kms.deleted", kmsName: row.name, actor: caller.name, data: {} });
        return { status: 204, body: null };
      }),
  );
}

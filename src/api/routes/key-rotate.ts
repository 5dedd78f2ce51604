import { acceptForCaller } from "../accept.js";
import { conflict } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { findKey } from "../lookups.js";
import { accepted, keyParamsSchema, mutationErrors, notFound } from "../schemas.js";

/** `POST /v1/keys/{name}/rotate`: a new version here and in every destination. */
export function registerKeyRotateRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/v1/keys/:name/rotate",
    {
      config: { access: "operate", what: "rotate keys" },
      schema: {
        ...mutationDocs(
          "keys",
          "Rotate a key everywhere",
          "A new version here, imported into every destination in parallel. No body. 409 `key_deleting`.",
        ),
        params: keyParamsSchema,
        response: { ...accepted, ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const key = await findKey(tx, request.params.name, { forUpdate: true });
        if (key.state === "deleting") throw conflict("key_deleting", `key ${key.name} is being deleted`);
        return acceptForCaller(tx, caller, {
          type: "rotate",
          keyId: key.id,
          input: {},
          keyName: key.name,
        });
      }),
  );
}

import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { distributions } from "../../db/schema/index.js";
import { copyInFlight, planningRedistribution } from "../../operations/copy-intents.js";
import { acceptForCaller } from "../accept.js";
import { conflict, notFound as missing } from "../api-error.js";
import { type ApiApp, type ApiContext, callerOf } from "../context.js";
import { docs, mutationDocs } from "../docs.js";
import { runMutation } from "../idempotency.js";
import { destinationOf, findKey, findKms, LIVE_DISTRIBUTION, liveDistribution } from "../lookups.js";
import {
  accepted,
  answer,
  bodyErrors,
  commonErrors,
  distributionParamsSchema,
  distributionSchema,
  mutationErrors,
  notFound,
  protectionSchema,
  purposeSchema,
} from "../schemas.js";
import { distributionViews } from "../views.js";

/**
 * `PUT` (distribute), `GET` and `DELETE` (remove the copy; the key stays) of `/v1/kms/{kms}/keys/{key}`.
 * What a cloud cannot hold is refused here with the provider's own 422, naming the rule.
 */

const putBody = z
  .strictObject({
    purpose: z.array(purposeSchema).min(1).max(6),
    protection: protectionSchema,
  })
  .meta({ examples: [{ purpose: ["encrypt", "decrypt"], protection: "hsm" }] });

export function registerKmsKeyRoutes(app: ApiApp, ctx: ApiContext): void {
  app.put(
    "/v1/kms/:kms/keys/:key",
    {
      config: { access: "operate", what: "distribute keys" },
      schema: {
        ...mutationDocs(
          "distributions",
          "Distribute a key to a destination",
          "422 names the rule when the cloud cannot hold the combination; 409 `already_distributed` when a " +
            "copy exists or is being made (`details.operationId` names the operation making it).",
        ),
        params: distributionParamsSchema,
        body: putBody,
        response: { ...accepted, ...mutationErrors, ...bodyErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const key = await findKey(tx, request.params.key, { forUpdate: true });
        const destination = await findKms(tx, request.params.kms);
        if (key.state === "deleting") throw conflict("key_deleting", `key ${key.name} is being deleted`);
        const purposes = [...new Set(request.body.purpose)];
        const { protection } = request.body;
        ctx.providers
          .get(destination.provider)
          .checkSupport(destinationOf(destination), { name: key.name, type: key.type, purposes, protection });
        const inFlight = await copyInFlight(tx, key.id, destination.id);
        if (inFlight?.type === "distribute") {
          throw conflict(
            "already_distributed",
            `key ${key.name} is being distributed to ${destination.name} by operation ${inFlight.id}`,
            { operationId: inFlight.id },
          );
        }
        // A removal in flight goes first: then the copy is gone and this one is made anew.
        const existing = inFlight ? undefined : await liveDistribution(tx, key.id, destination.id);
        if (existing && existing.state !== "failed") {
          throw conflict(
            "already_distributed",
            `key ${key.name} already has a copy in ${destination.name} (${existing.state}); remove it first to change it`,
          );
        }
        return acceptForCaller(tx, caller, {
          type: "distribute",
          keyId: key.id,
          kmsId: destination.id,
          input: { purposes, protection },
          keyName: key.name,
          kmsName: destination.name,
        });
      }),
  );

  app.get(
    "/v1/kms/:kms/keys/:key",
    {
      config: { access: "read", what: "read distributions" },
      schema: {
        ...docs("distributions", "A key's copy in a destination: remote name, purposes, versions, state"),
        params: distributionParamsSchema,
        response: { 200: answer("the copy", distributionSchema), ...commonErrors, ...notFound },
      },
    },
    async (request) => {
      const key = await findKey(ctx.db, request.params.key);
      const destination = await findKms(ctx.db, request.params.kms);
      const [view] = await distributionViews(
        ctx.db,
        and(eq(distributions.keyId, key.id), eq(distributions.kmsId, destination.id), LIVE_DISTRIBUTION),
      );
      if (!view) throw missing(`key ${key.name} is not distributed to ${destination.name}`);
      return view;
    },
  );

  app.delete(
    "/v1/kms/:kms/keys/:key",
    {
      config: { access: "operate", what: "remove distributions" },
      schema: {
        ...mutationDocs(
          "distributions",
          "Remove a key's copy from a destination (the key stays)",
          "The copy stops working at once; AWS schedules deletion after the kms's pending window, Azure " +
            "soft-deletes (and purges when the kms says so). A copy being made is removed once made; 409 " +
            "`removal_in_progress` while a removal runs, `redistribution_in_progress` while a redistribution " +
            "is about to make it (`details.operationId` names it); 404 when there is no copy.",
        ),
        params: distributionParamsSchema,
        response: { ...accepted, ...mutationErrors, ...notFound },
      },
    },
    async (request, reply) =>
      runMutation(ctx, request, reply, async (tx) => {
        const caller = callerOf(request);
        const key = await findKey(tx, request.params.key, { forUpdate: true });
        const destination = await findKms(tx, request.params.kms);
        const inFlight = await copyInFlight(tx, key.id, destination.id);
        if (inFlight?.type === "remove") {
          throw conflict(
            "removal_in_progress",
            `key ${key.name} is being removed from ${destination.name} by operation ${inFlight.id}`,
            { operationId: inFlight.id },
          );
        }
        // A distribution in flight goes first: this removal takes away the copy it makes.
        const existing = await liveDistribution(tx, key.id, destination.id);
        if (!inFlight && !existing) {
          const run = await planningRedistribution(tx, key, destination.id);
          if (run) {
            throw conflict(
              "redistribution_in_progress",
              `redistribution ${run} is planning a copy of key ${key.name} in ${destination.name}; remove it once the run made it`,
              { operationId: run },
            );
          }
          throw missing(`key ${key.name} is not distributed to ${destination.name}`);
        }
        return acceptForCaller(tx, caller, {
          type: "remove",
          keyId: key.id,
          kmsId: destination.id,
          input: existing && !inFlight ? { distributionId: existing.id } : {},
          keyName: key.name,
          kmsName: destination.name,
        });
      }),
  );
}

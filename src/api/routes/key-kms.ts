import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { distributions } from "../../db/schema/index.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { findKey, LIVE_DISTRIBUTION } from "../lookups.js";
import { answer, commonErrors, distributionSchema, keyParamsSchema, notFound } from "../schemas.js";
import { distributionViews } from "../views.js";

/** `GET /v1/keys/{name}/kms`: the destinations holding a copy of a key. */
export function registerKeyKmsRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/keys/:name/kms",
    {
      config: { access: "read", what: "read distributions" },
      schema: {
        ...docs("distributions", "The destinations of a key"),
        params: keyParamsSchema,
        response: {
          200: answer("the key's live copies", z.object({ items: z.array(distributionSchema) })),
          ...commonErrors,
          ...notFound,
        },
      },
    },
    async (request) => {
      const key = await findKey(ctx.db, request.params.name);
      return {
        items: await distributionViews(ctx.db, and(eq(distributions.keyId, key.id), LIVE_DISTRIBUTION)),
      };
    },
  );
}

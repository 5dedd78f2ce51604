import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { distributions } from "../../db/schema/index.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { findKms, LIVE_DISTRIBUTION } from "../lookups.js";
import { answer, commonErrors, distributionSchema, kmsNameSchema, notFound } from "../schemas.js";
import { distributionViews } from "../views.js";

/** `GET /v1/kms/{kms}/keys`: the copies a destination holds. */
export function registerKmsKeysRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/kms/:kms/keys",
    {
      config: { access: "read", what: "read distributions" },
      schema: {
        ...docs("distributions", "The keys distributed to a destination"),
        params: z.strictObject({ kms: kmsNameSchema }),
        response: {
          200: answer("the destination's live copies", z.object({ items: z.array(distributionSchema) })),
          ...commonErrors,
          ...notFound,
        },
      },
    },
    async (request) => {
      const destination = await findKms(ctx.db, request.params.kms);
      return {
        items: await distributionViews(
          ctx.db,
          and(eq(distributions.kmsId, destination.id), LIVE_DISTRIBUTION),
        ),
      };
    },
  );
}

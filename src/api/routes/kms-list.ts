import { asc } from "drizzle-orm";
import { z } from "zod";
import { kms } from "../../db/schema/index.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { kmsSchema, kmsView } from "../kms-views.js";
import { answer, commonErrors } from "../schemas.js";

/** `GET /v1/kms`: every destination (without credentials). */
export function registerKmsListRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/kms",
    {
      config: { access: "read", what: "list kms destinations" },
      schema: {
        ...docs("kms", "List kms destinations"),
        querystring: z.strictObject({}),
        response: {
          200: answer("every destination, by name", z.object({ items: z.array(kmsSchema) })),
          ...commonErrors,
        },
      },
    },
    async () => {
      const rows = await ctx.db.select().from(kms).orderBy(asc(kms.name));
      return { items: rows.map(kmsView) };
    },
  );
}

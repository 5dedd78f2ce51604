import { eq } from "drizzle-orm";
import type { Queryable } from "../../db/client.js";
import { operations } from "../../db/schema/index.js";
import { notFound as missing } from "../api-error.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { answer, commonErrors, idParamsSchema, notFound, operationSchema } from "../schemas.js";
import { operationView } from "../views.js";

/** `GET /v1/operations/{id}`: state, steps, progress and error of one operation. */

export async function findOperation(db: Queryable, id: string, options: { forUpdate?: boolean } = {}) {
  const query = db.select().from(operations).where(eq(operations.id, id));
  const [row] = options.forUpdate ? await query.for("update") : await query;
  if (!row) throw missing(`no operation ${id}`);
  return row;
}

export function registerOperationRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/operations/:id",
    {
      config: { access: "read", what: "read operations" },
      schema: {
        ...docs("operations", "Read an operation: state, steps, progress of a bulk one, error"),
        params: idParamsSchema,
        response: { 200: answer("the operation", operationSchema), ...commonErrors, ...notFound },
      },
    },
    async (request) => operationView(ctx.db, await findOperation(ctx.db, request.params.id)),
  );
}

import { and, desc, eq, isNull, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { keys, kms, operations } from "../../db/schema/index.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import {
  answer,
  commonErrors,
  keyNameSchema,
  kmsNameSchema,
  limitSchema,
  operationSchema,
  operationStateSchema,
  operationTypeSchema,
  ruleErrors,
} from "../schemas.js";
import { operationViews } from "../views.js";

/** `GET /v1/operations?state=&key=&kms=&type=`: newest first, paged with an opaque `cursor`. */

const listQuery = z.strictObject({
  state: operationStateSchema.optional(),
  type: operationTypeSchema.optional(),
  key: keyNameSchema.optional(),
  kms: kmsNameSchema.optional(),
  parent: z.uuid().optional(),
  cursor: z.string().max(200).optional(),
  limit: limitSchema,
});

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = z
      .tuple([z.iso.datetime(), z.uuid()])
      .parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return { createdAt, id };
  } catch {
    throw new InvalidInputError("invalid_cursor", "cursor is not one this API gave out", { field: "cursor" });
  }
}

export function registerOperationsRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/v1/operations",
    {
      config: { access: "read", what: "read operations" },
      schema: {
        ...docs(
          "operations",
          "List operations, newest first",
          "Top-level operations unless `parent` is given.",
        ),
        querystring: listQuery,
        response: {
          200: answer(
            "one page of operations; pass `nextCursor` as `cursor` for the next, null on the last",
            z.object({ items: z.array(operationSchema), nextCursor: z.string().nullable() }),
          ),
          ...commonErrors,
          ...ruleErrors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const where: Array<SQL | undefined> = [
        q.state ? eq(operations.state, q.state) : undefined,
        q.type ? eq(operations.type, q.type) : undefined,
        q.parent ? eq(operations.parentId, q.parent) : isNull(operations.parentId),
      ];
      if (q.key)
        where.push(sql`${operations.keyId} = (select ${keys.id} from ${keys} where ${keys.name} = ${q.key})`);
      if (q.kms)
        where.push(sql`${operations.kmsId} = (select ${kms.id} from ${kms} where ${kms.name} = ${q.kms})`);
      if (q.cursor) {
        const c = decodeCursor(q.cursor);
        where.push(
          sql`(${operations.createdAt}, ${operations.id}) < (${c.createdAt}::timestamptz, ${c.id}::uuid)`,
        );
      }
      const rows = await ctx.db
        .select()
        .from(operations)
        .where(and(...where))
        .orderBy(desc(operations.createdAt), desc(operations.id))
        .limit(q.limit);
      const last = rows.at(-1);
      return {
        items: await operationViews(ctx.db, rows),
        nextCursor: rows.length === q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },
  );
}

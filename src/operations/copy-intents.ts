import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { distributions, operationSteps, operations } from "../db/schema/index.js";
import { type RedistributeInput, redistributeInputSchema } from "./redistribute-input.js";

const UNFINISHED = ["queued", "running"] as const;

export interface CopyInFlight {
  id: string;
  type: "distribute" | "remove";
}

/**
 * What a key's copy in one destination is about to become, as intake sees it under the key row's lock: the
 * latest unfinished distribute or remove of that copy decides (it runs after everything accepted before it,
 * src/operations/run.ts), else the copy as it stands. Intake refuses what cannot succeed against it (a
 * second distribute of a copy on its way, a remove of a copy that is going or gone), so that duplicates get
 * a 409 at once instead of a 202 and a failed operation later.
 */
export async function copyInFlight(
  tx: Queryable,
  keyId: string,
  kmsId: string,
): Promise<CopyInFlight | undefined> {
  const [row] = await tx
    .select({ id: operations.id, type: operations.type })
    .from(operations)
    .where(
      and(
        eq(operations.keyId, keyId),
        eq(operations.kmsId, kmsId),
        inArray(operations.type, ["distribute", "remove"]),
        inArray(operations.state, [...UNFINISHED]),
      ),
    )
    .orderBy(desc(operations.keySeq))
    .limit(1);
  if (!row) return undefined;
  return { id: row.id, type: row.type as "distribute" | "remove" };
}

/**
 * An unfinished redistribution to `kmsId` that has not planned all its children yet and whose selection
 * takes the key: it may be about to make the key's copy there, so a remove cannot be answered 404 (nor
 * accepted: the child it plans would run after it). Once planned, its child is an ordinary in-flight
 * distribute (`copyInFlight`).
 */
export async function planningRedistribution(
  tx: Queryable,
  key: { id: string; name: string },
  kmsId: string,
): Promise<string | undefined> {
  const runs = await tx
    .select({ id: operations.id, input: operations.input })
    .from(operations)
    .where(
      and(
        eq(operations.type, "redistribute"),
        inArray(operations.state, [...UNFINISHED]),
        sql`exists (select 1 from jsonb_array_elements(${operations.input} -> 'to') d where d ->> 'id' = ${kmsId})`,
        sql`not exists (select 1 from ${operationSteps} s
          where s.operation_id = ${operations.id} and s.name = 'plan' and s.state = 'succeeded')`,
      ),
    )
    .orderBy(operations.createdAt);
  for (const run of runs) {
    const parsed = redistributeInputSchema.safeParse(run.input);
    if (!parsed.success) continue;
    if (await selects(tx, parsed.data, key)) return run.id;
  }
  return undefined;
}

/** Whether a redistribution's key selection takes the key (the rules of planBatch, for one key). */
async function selects(
  tx: Queryable,
  input: RedistributeInput,
  key: { id: string; name: string },
): Promise<boolean> {
  const selection = input.keys;
  if (selection && "names" in selection && !selection.names.includes(key.name)) return false;
  if (selection && "prefix" in selection && !key.name.startsWith(selection.prefix)) return false;
  if (input.from) {
    const [held] = await tx
      .select({ id: distributions.id })
      .from(distributions)
      .where(
        and(
          eq(distributions.keyId, key.id),
          eq(distributions.kmsId, input.from.id),
          sql`${distributions.state} <> 'removed'`,
        ),
      );
    if (!held) return false;
  }
  return true;
}

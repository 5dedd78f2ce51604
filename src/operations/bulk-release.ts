import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { kms, operations, outbox } from "../db/schema/index.js";
import { OPERATIONS_QUEUE } from "../queue/names.js";

/** Children in flight per destination when neither the destination nor the worker says (`concurrency`). */
export const DEFAULT_BULK_WINDOW = 8;

/**
 * Hand the next held children of a bulk operation to the queue: per destination, as many as its window
 * (`options.concurrency` of the destination, else `window`) minus those already in flight, oldest first.
 * Called when the plan has accepted a batch, whenever a child finishes, and on every look of the waiting
 * parent, so a run moves at the pace its destinations take children and the queue never holds thousands
 * of jobs that would only wait for a slot. The parent's row lock serializes concurrent releases.
 */
export async function releaseChildren(
  db: Database,
  parentId: string,
  kmsIds: readonly string[],
  window: number,
): Promise<number> {
  if (kmsIds.length === 0) return 0;
  const released = await db.transaction(async (tx) => {
    const [parent] = await tx
      .select({ state: operations.state, cancelRequestedAt: operations.cancelRequestedAt })
      .from(operations)
      .where(eq(operations.id, parentId))
      .for("update");
    if (!parent || parent.cancelRequestedAt || !["queued", "running"].includes(parent.state)) return [];
    // Per destination: the room left in its window, then that many of its oldest held children, each read
    // through a partial index, so a release costs the same for a run of 10 keys or of 10,000.
    const rows = await tx.execute<{ id: string }>(sql`
      with room as (
        select k.id as kms_id,
               greatest(1, coalesce((k.options->>'concurrency')::int, ${window})) - (
                 select count(*) from ${operations} f
                 where f.parent_id = ${parentId} and f.kms_id = k.id
                   and not f.held and f.state in ('queued', 'running')
               ) as n
        from ${kms} k
        where k.id in (${sql.join(
          kmsIds.map((id) => sql`${id}::uuid`),
          sql`, `,
        )})
      ), picked as (
        select c.id from room r cross join lateral (
          select o.id from ${operations} o
          where o.parent_id = ${parentId} and o.kms_id = r.kms_id and o.held and o.state = 'queued'
          order by o.created_at, o.id
          limit greatest(r.n, 0)
        ) c
      )
      update ${operations} o set held = false, updated_at = now()
      from picked p where o.id = p.id
      returning o.id`);
    const ids = rows.rows.map((r) => r.id);
    if (ids.length > 0) {
      await tx.insert(outbox).values(ids.map((operationId) => ({ operationId, queue: OPERATIONS_QUEUE })));
    }
    return ids;
  });
  return released.length;
}

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
export async function releaseChildren(db: Database, parentId: string, window: number): Promise<number> {
  const released = await db.transaction(async (tx) => {
    const [parent] = await tx
      .select({ state: operations.state, cancelRequestedAt: operations.cancelRequestedAt })
      .from(operations)
      .where(eq(operations.id, parentId))
      .for("update");
    if (!parent || parent.cancelRequestedAt || !["queued", "running"].includes(parent.state)) return [];
    const rows = await tx.execute<{ id: string }>(sql`
      with inflight as (
        select kms_id, count(*)::int as n from ${operations}
        where parent_id = ${parentId} and not held and state in ('queued', 'running')
        group by kms_id
      ), candidates as (
        select c.id, c.kms_id,
               row_number() over (partition by c.kms_id order by c.created_at, c.id) as rn,
               greatest(1, coalesce((k.options->>'concurrency')::int, ${window})) as size
        from ${operations} c left join ${kms} k on k.id = c.kms_id
        where c.parent_id = ${parentId} and c.held and c.state = 'queued'
      )
      update ${operations} o set held = false, updated_at = now()
      from candidates c left join inflight i on i.kms_id is not distinct from c.kms_id
      where o.id = c.id and c.rn <= c.size - coalesce(i.n, 0)
      returning o.id`);
    const ids = rows.rows.map((r) => r.id);
    if (ids.length > 0) {
      await tx.insert(outbox).values(ids.map((operationId) => ({ operationId, queue: OPERATIONS_QUEUE })));
    }
    return ids;
  });
  return released.length;
}

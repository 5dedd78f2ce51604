import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { acceptOperation } from "./intake.js";

/** Keys (or destinations) looked at per tick: a backlog is worked off over the next ticks. */
const PER_TICK = 200;
/** Who scheduled work is filed under in the ledger. */
export const SCHEDULER_ACTOR = "scheduler";

type DueRotation = {
  key_id: string;
  key_name: string;
  due_at: Date;
};

type DueReconcile = {
  kms_id: string;
  kms_name: string;
  due_at: Date;
};

export interface ScheduledWork {
  rotations: number;
  reconciles: number;
}

/**
 * Accept the rotations and drift checks that are due (src/queue/schedules.ts calls this on every tick).
 *
 * A key is due when its latest version is `rotationPeriod` old and no rotation of it is queued or running:
 * the schedule follows the key's own history, so a manual rotation pushes the next one back, and workers
 * that were down for three periods cause one rotation when they return, not three. A destination is due
 * when its last drift check (or its creation) is older than its interval. One transaction under an advisory
 * lock: two workers ticking at once accept each rotation once.
 */
export async function acceptDueWork(db: Database, reconcileIntervalSeconds: number): Promise<ScheduledWork> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('keyferry:schedules'))`);
    const rotations = await tx.execute<DueRotation>(sql`
      select k.id as key_id, k.name as key_name,
             v.created_at + make_interval(secs => k.rotation_period_seconds) as due_at
      from keys k
      join key_versions v on v.key_id = k.id and v.version = k.latest_version
      where k.state = 'active'
        and k.rotation_period_seconds is not null
        and v.created_at + make_interval(secs => k.rotation_period_seconds) <= now()
        and not exists (
          select 1 from operations o
          where o.key_id = k.id and o.type = 'rotate' and o.state in ('queued', 'running'))
      order by due_at
      limit ${PER_TICK}`);
    for (const due of rotations.rows) {
      await acceptOperation(tx, {
        type: "rotate",
        keyId: due.key_id,
        input: { scheduled: true, dueAt: new Date(due.due_at).toISOString() },
        actor: SCHEDULER_ACTOR,
        keyName: due.key_name,
      });
    }

    const reconciles = await tx.execute<DueReconcile>(sql`
      select d.id as kms_id, d.name as kms_name, d.due_at
      from (
        select m.id, m.name,
               coalesce(
                 (select max(o.created_at) from operations o where o.kms_id = m.id and o.type = 'reconcile'),
                 m.created_at
               ) + make_interval(secs => coalesce((m.options->>'reconcileIntervalSeconds')::int, ${reconcileIntervalSeconds})) as due_at,
               coalesce((m.options->>'reconcileIntervalSeconds')::int, ${reconcileIntervalSeconds}) as every
        from kms m
      ) d
      where d.every > 0 and d.due_at <= now()
        and not exists (
          select 1 from operations o
          where o.kms_id = d.id and o.type = 'reconcile' and o.state in ('queued', 'running'))
      order by d.due_at
      limit ${PER_TICK}`);
    for (const due of reconciles.rows) {
      await acceptOperation(tx, {
        type: "reconcile",
        kmsId: due.kms_id,
        input: { heal: false, scheduled: true },
        actor: SCHEDULER_ACTOR,
        kmsName: due.kms_name,
      });
    }
    return { rotations: rotations.rows.length, reconciles: reconciles.rows.length };
  });
}

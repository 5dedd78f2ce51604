import { and, asc, eq, gt, inArray, like, ne, type SQL, sql } from "drizzle-orm";
import type { KeyType } from "../crypto/key-types.js";
import { KEY_TYPE_INFO } from "../crypto/key-types.js";
import type { Queryable } from "../db/client.js";
import { distributions, keys, kms, operations } from "../db/schema/index.js";
import type { Protection, Purpose } from "../providers/kms-provider.js";
import type { RedistributeInput } from "./redistribute-input.js";

/** One child to accept: key × destination, with the purposes and protection the copy will have. */
export interface PlannedChild {
  keyId: string;
  keyName: string;
  kmsId: string;
  kmsName: string;
  purposes: Purpose[];
  protection: Protection;
}

export interface PlannedBatch {
  children: PlannedChild[];
  /** Pairs left out because the destination already holds a live copy (or a child exists). */
  skipped: number;
  /** The last key name of the batch: the next batch starts after it. */
  lastKeyName: string | undefined;
}

/**
 * Where a copy's purposes and protection come from when the request does not say: the copy the old
 * destination held (`from`), else any copy of the key still in service, else the key type's natural use.
 */
export function defaultPurposes(type: KeyType): Purpose[] {
  return KEY_TYPE_INFO[type].family === "ec" ? ["sign", "verify"] : ["encrypt", "decrypt"];
}

/**
 * The next batch of children of a redistribution, in key name order after `afterName`: keys in service that
 * the selection names (all, a list, a prefix, or those `from` held) × every destination of `to`, minus the
 * pairs that already have a child of this parent, a live copy (a rerun or a partly done recovery) or a copy
 * another operation is making.
 */
export async function planBatch(
  db: Queryable,
  parentId: string,
  input: RedistributeInput,
  afterName: string | undefined,
  size: number,
): Promise<PlannedBatch> {
  const conditions: SQL[] = [eq(keys.state, "active")];
  if (afterName !== undefined) conditions.push(gt(keys.name, afterName));
  const selection = input.keys;
  if (selection && "names" in selection) conditions.push(inArray(keys.name, selection.names));
  if (selection && "prefix" in selection)
    conditions.push(like(keys.name, `${escapeLike(selection.prefix)}%`));
  if (input.from) {
    conditions.push(sql`exists (
      select 1 from ${distributions} d
      where d.key_id = ${keys.id} and d.kms_id = ${input.from.id} and d.state <> 'removed')`);
  }
  const batch = await db
    .select({ id: keys.id, name: keys.name, type: keys.type })
    .from(keys)
    .where(and(...conditions))
    .orderBy(asc(keys.name))
    .limit(size);
  const lastKeyName = batch.at(-1)?.name;
  if (batch.length === 0) return { children: [], skipped: 0, lastKeyName };

  const keyIds = batch.map((k) => k.id);
  const copies = await db
    .select({
      keyId: distributions.keyId,
      kmsId: distributions.kmsId,
      kmsName: kms.name,
      state: distributions.state,
      purposes: distributions.purposes,
      protection: distributions.protection,
    })
    .from(distributions)
    .innerJoin(kms, eq(kms.id, distributions.kmsId))
    .where(and(inArray(distributions.keyId, keyIds), ne(distributions.state, "removed")))
    .orderBy(asc(kms.name));
  const existingChildren = await db
    .select({ keyId: operations.keyId, kmsId: operations.kmsId })
    .from(operations)
    .where(and(eq(operations.parentId, parentId), inArray(operations.keyId, keyIds)));
  const taken = new Set(existingChildren.map((c) => `${c.keyId}/${c.kmsId}`));
  // A copy another operation is making (a distribute, another run's child) is on its way: left alone too.
  const inFlight = await db
    .select({ keyId: operations.keyId, kmsId: operations.kmsId })
    .from(operations)
    .where(
      and(
        inArray(operations.keyId, keyIds),
        eq(operations.type, "distribute"),
        inArray(operations.state, ["queued", "running"]),
        sql`${operations.parentId} is distinct from ${parentId}`,
      ),
    );
  const coming = new Set(inFlight.map((c) => `${c.keyId}/${c.kmsId}`));

  const children: PlannedChild[] = [];
  let skipped = 0;
  for (const key of batch) {
    const ofKey = copies.filter((c) => c.keyId === key.id);
    const model =
      (input.from ? ofKey.find((c) => c.kmsId === input.from?.id) : undefined) ??
      ofKey.find((c) => c.state === "active");
    for (const destination of input.to) {
      if (taken.has(`${key.id}/${destination.id}`)) continue;
      const live = ofKey.find((c) => c.kmsId === destination.id);
      // A copy in service (or on its way) is left alone; a failed one is distributed again.
      if ((live && live.state !== "failed") || coming.has(`${key.id}/${destination.id}`)) {
        skipped += 1;
        continue;
      }
      children.push({
        keyId: key.id,
        keyName: key.name,
        kmsId: destination.id,
        kmsName: destination.name,
        purposes: input.purposes ?? model?.purposes ?? defaultPurposes(key.type),
        protection: input.protection ?? model?.protection ?? "hsm",
      });
    }
  }
  return { children, skipped, lastKeyName };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, "\\$&");
}

import { and, eq, inArray, ne } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { distributions, keys, kms } from "../db/schema/index.js";
import type { KmsDestination, KmsOptions } from "../providers/kms-provider.js";
import { notFound } from "./api-error.js";

/** Reads the routes share; each answers 404 with a message naming what is missing. */

export type KeyRow = typeof keys.$inferSelect;
export type KmsRow = typeof kms.$inferSelect;
export type DistributionRow = typeof distributions.$inferSelect;

/** A key that exists (deleted keys are gone for the API). */
export async function findKey(
  db: Queryable,
  name: string,
  options: { forUpdate?: boolean } = {},
): Promise<KeyRow> {
  const query = db
    .select()
    .from(keys)
    .where(and(eq(keys.name, name), ne(keys.state, "deleted")));
  const [row] = options.forUpdate ? await query.for("update") : await query;
  if (!row) throw notFound(`no key named ${name}`);
  return row;
}

export async function findKms(
  db: Queryable,
  name: string,
  options: { forUpdate?: boolean } = {},
): Promise<KmsRow> {
  const query = db.select().from(kms).where(eq(kms.name, name));
  const [row] = options.forUpdate ? await query.for("update") : await query;
  if (!row) throw notFound(`no kms named ${name}`);
  return row;
}

/** Copies that are not `removed` (at most one per key and kms). */
export const LIVE_DISTRIBUTION = ne(distributions.state, "removed");

export async function liveDistribution(
  db: Queryable,
  keyId: string,
  kmsId: string,
): Promise<DistributionRow | undefined> {
  const [row] = await db
    .select()
    .from(distributions)
    .where(and(eq(distributions.keyId, keyId), eq(distributions.kmsId, kmsId), LIVE_DISTRIBUTION));
  return row;
}

/** The destination as a provider's `checkSupport` sees it; credentials are not needed for that. */
export function destinationOf(row: KmsRow): KmsDestination {
  return {
    name: row.name,
    provider: row.provider,
    keyCollection: row.keyCollection,
    credentials: undefined,
    options: row.options as KmsOptions,
    revision: row.revision,
  };
}

export async function namesOf(
  db: Queryable,
  table: typeof keys | typeof kms,
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(inArray(table.id, [...ids]));
  return new Map(rows.map((r) => [r.id, r.name]));
}

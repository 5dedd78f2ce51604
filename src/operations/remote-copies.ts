import { asc, eq, sql } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { distributions, distributionVersions } from "../db/schema/index.js";
import type { RemoteCopy, RemoteVersion } from "../providers/kms-provider.js";

export type DistributionRow = typeof distributions.$inferSelect;

/** The RemoteCopy a provider gets back for later calls, from a distribution and its version rows. */
export async function loadRemoteCopy(db: Queryable, distribution: DistributionRow): Promise<RemoteCopy> {
  const rows = await db
    .select()
    .from(distributionVersions)
    .where(eq(distributionVersions.distributionId, distribution.id))
    .orderBy(asc(distributionVersions.version));
  const versions: RemoteVersion[] = rows
    .filter((row) => row.state !== "removed")
    .map((row) => ({
      version: row.version,
      remoteId: row.remoteId,
      state: row.state === "removed" ? "disabled" : row.state,
      detail: row.detail,
    }));
  return { remoteName: distribution.remoteName ?? "", versions, detail: distribution.detail };
}

/** Record what a provider answered: the copy's name and detail, and one row per remote version. */
export async function saveRemoteCopy(tx: Queryable, distributionId: string, copy: RemoteCopy): Promise<void> {
  await tx
    .update(distributions)
    .set({ remoteName: copy.remoteName, detail: copy.detail, updatedAt: new Date() })
    .where(eq(distributions.id, distributionId));
  if (copy.versions.length === 0) return;
  await tx
    .insert(distributionVersions)
    .values(
      copy.versions.map((v) => ({
        distributionId,
        version: v.version,
        remoteId: v.remoteId,
        state: v.state,
        detail: v.detail,
      })),
    )
    .onConflictDoUpdate({
      target: [distributionVersions.distributionId, distributionVersions.version],
      set: {
        remoteId: sql`excluded.remote_id`,
        state: sql`excluded.state`,
        detail: sql`excluded.detail`,
        updatedAt: new Date(),
      },
    });
}

/** The non-secret summary a step records: `{ remoteName, versions: { n: remoteId } }`. */
export function copySummary(copy: RemoteCopy): { remoteName: string; versions: Record<string, string> } {
  return {
    remoteName: copy.remoteName,
    versions: Object.fromEntries(copy.versions.map((v) => [String(v.version), v.remoteId])),
  };
}

import { and, asc, eq, gte } from "drizzle-orm";
import { withKeyMaterial } from "../custody/key-versions.js";
import type { RootKeyRing } from "../custody/root-keys.js";
import type { Queryable } from "../db/client.js";
import { keyVersions } from "../db/schema/index.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import type { VersionSource } from "../providers/kms-provider.js";

/**
 * The custody layer's versions as providers take them: the public key from the row, the material
 * unsealed only inside `withMaterial` and zeroed after it.
 */
export async function versionSources(
  db: Queryable,
  ring: RootKeyRing,
  key: { id: string; name: string },
  fromVersion = 1,
): Promise<VersionSource[]> {
  const rows = await db
    .select({ version: keyVersions.version, publicKey: keyVersions.publicKey })
    .from(keyVersions)
    .where(and(eq(keyVersions.keyId, key.id), gte(keyVersions.version, fromVersion)))
    .orderBy(asc(keyVersions.version));
  return rows.map((row) => ({
    version: row.version,
    publicKey: row.publicKey,
    withMaterial: <T>(use: (material: Buffer) => Promise<T>) =>
      withKeyMaterial(db, ring, key.name, row.version, (material) => use(material)),
  }));
}

export async function versionSource(
  db: Queryable,
  ring: RootKeyRing,
  key: { id: string; name: string },
  version: number,
): Promise<VersionSource> {
  const [source] = (await versionSources(db, ring, key, version)).filter((s) => s.version === version);
  if (!source) {
    throw new KeyferryError("key_version_not_found", `key ${key.name} has no version ${version}`, {
      status: 404,
    });
  }
  return source;
}

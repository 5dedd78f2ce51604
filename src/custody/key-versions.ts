import { and, eq } from "drizzle-orm";
import { generateKeyMaterial } from "../crypto/generate.js";
import type { KeyType } from "../crypto/key-types.js";
import { seal, unseal } from "../crypto/seal.js";
import { zero } from "../crypto/zero.js";
import type { Queryable } from "../db/client.js";
import { keys, keyVersions } from "../db/schema/index.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import type { RootKeyRing } from "./root-keys.js";

export interface SealedVersion {
  version: number;
  sealedMaterial: Buffer;
  rootKeyId: string;
  publicKey: Buffer | null;
}

/**
 * Generate and seal a new version. Kept apart from the insert so that the slow part (seconds for RSA-4096)
 * runs outside any database transaction; the plaintext is zeroed before this returns.
 */
export async function generateSealedVersion(
  ring: RootKeyRing,
  key: { name: string; type: KeyType },
  version: number,
): Promise<SealedVersion> {
  const { material, publicKey } = await generateKeyMaterial(key.type);
  try {
    const sealedMaterial = seal(ring.current, material, { purpose: "key-material", name: key.name, version });
    return { version, sealedMaterial, rootKeyId: ring.current.id, publicKey: publicKey ?? null };
  } finally {
    zero(material);
  }
}

export async function insertKeyVersion(db: Queryable, keyId: string, sealed: SealedVersion): Promise<void> {
  await db.insert(keyVersions).values({ keyId, ...sealed });
}

/**
 * Run `use` with the plaintext material of one version and zero it afterwards, whatever `use` does.
 * `use` must not keep the buffer (copies it makes are its own to zero).
 */
export async function withKeyMaterial<T>(
  db: Queryable,
  ring: RootKeyRing,
  keyName: string,
  version: number,
  use: (material: Buffer, type: KeyType) => Promise<T> | T,
): Promise<T> {
  const [row] = await db
    .select({ sealedMaterial: keyVersions.sealedMaterial, type: keys.type })
    .from(keyVersions)
    .innerJoin(keys, eq(keys.id, keyVersions.keyId))
    .where(and(eq(keys.name, keyName), eq(keyVersions.version, version)));
  if (!row) {
    throw new KeyferryError("key_version_not_found", `key ${keyName} has no version ${version}`, {
      status: 404,
    });
  }
  const material = unseal(ring.all, row.sealedMaterial, { purpose: "key-material", name: keyName, version });
  try {
    return await use(material, row.type);
  } finally {
    zero(material);
  }
}

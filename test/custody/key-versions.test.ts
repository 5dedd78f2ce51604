import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { KEY_TYPES, type KeyType } from "../../src/crypto/key-types.js";
import { parseRootKey } from "../../src/crypto/root-key.js";
import { seal, unseal } from "../../src/crypto/seal.js";
import { generateSealedVersion, insertKeyVersion, withKeyMaterial } from "../../src/custody/key-versions.js";
import { resealAll } from "../../src/custody/reseal.js";
import type { RootKeyRing } from "../../src/custody/root-keys.js";
import { keys, keyVersions, kms, ledgerPending } from "../../src/db/schema/index.js";
import { useTestDatabase } from "../helpers/database.js";

const run = promisify(execFile);
const database = useTestDatabase();
const rootA = parseRootKey(Buffer.alloc(32, 0xa1).toString("base64"));
const rootB = parseRootKey(Buffer.alloc(32, 0xb2).toString("base64"));
const ringA: RootKeyRing = { current: rootA, all: [rootA] };

/** Every 16-byte window of the secret that is not also in the public key (RSA moduli are in both). */
function secretWindows(material: Buffer, publicKey: Buffer | null): Buffer[] {
  const windows: Buffer[] = [];
  for (let i = 0; i + 16 <= material.length; i += 4) {
    const w = material.subarray(i, i + 16);
    if (!publicKey || publicKey.indexOf(w) === -1) windows.push(Buffer.from(w));
  }
  return windows;
}

async function createKey(name: string, type: KeyType): Promise<string> {
  const { db } = database();
  const [row] = await db.insert(keys).values({ name, type, state: "active" }).returning({ id: keys.id });
  if (!row) throw new Error("insert returned nothing");
  return row.id;
}

describe("key custody", () => {
  const plaintexts = new Map<string, { material: Buffer; publicKey: Buffer | null }>();

  it("generates, seals and stores every key type; the plaintext comes back only through the root key", async () => {
    const { db } = database();
    for (const type of KEY_TYPES) {
      const name = `custody-${type}`;
      const keyId = await createKey(name, type);
      for (const version of [1, 2]) {
        const sealed = await generateSealedVersion(ringA, { name, type }, version);
        await insertKeyVersion(db, keyId, sealed);
        const material = await withKeyMaterial(db, ringA, name, version, (m, t) => {
          expect(t).toBe(type);
          return Buffer.from(m);
        });
        plaintexts.set(`${name}/${version}`, { material, publicKey: sealed.publicKey });
      }
    }
    expect(plaintexts.size).toBe(KEY_TYPES.length * 2);
  });

  it("the database never holds plaintext material (table contents and a full pg_dump are searched)", async () => {
    const { db, url } = database();
    const rows = await db.select().from(keyVersions);
    const dump = (await run("pg_dump", ["--data-only", url], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    for (const [, { material, publicKey }] of plaintexts) {
      // Control: bytea reaches the dump as searchable hex (public keys are stored in the clear).
      if (publicKey) expect(dump.includes(publicKey.subarray(-16).toString("hex"))).toBe(true);
      for (const row of rows) expect(row.sealedMaterial.indexOf(material)).toBe(-1);
      for (const window of secretWindows(material, publicKey)) {
        for (const row of rows) expect(row.sealedMaterial.indexOf(window)).toBe(-1);
        expect(dump.includes(window.toString("hex"))).toBe(false);
        expect(dump.includes(window.toString("base64").slice(0, 20))).toBe(false);
      }
    }
  });

  it("the material handed to a caller is zeroed when the caller is done, also when it throws", async () => {
    const { db } = database();
    let kept: Buffer | undefined;
    await withKeyMaterial(db, ringA, "custody-aes256-gcm96", 1, (m) => {
      kept = m;
      expect(m.some((b) => b !== 0)).toBe(true);
    });
    expect(kept?.every((b) => b === 0)).toBe(true);
    await expect(
      withKeyMaterial(db, ringA, "custody-ecdsa-p256", 1, (m) => {
        kept = m;
        throw new Error("caller failed");
      }),
    ).rejects.toThrow("caller failed");
    expect(kept?.every((b) => b === 0)).toBe(true);
    await expect(withKeyMaterial(db, ringA, "custody-ecdsa-p256", 9, () => 0)).rejects.toMatchObject({
      code: "key_version_not_found",
      status: 404,
    });
  });

  it("a sealed version cannot be moved to another key or version", async () => {
    const { db } = database();
    const [v1] = await db
      .select()
      .from(keyVersions)
      .innerJoin(keys, eq(keys.id, keyVersions.keyId))
      .where(eq(keys.name, "custody-rsa-2048"));
    if (!v1) throw new Error("no version");
    const ctx = {
      purpose: "key-material",
      name: "custody-rsa-2048",
      version: v1.key_versions.version,
    } as const;
    expect(() => unseal(rootA, v1.key_versions.sealedMaterial, { ...ctx, name: "custody-rsa-3072" })).toThrow(
      /authentication failed/,
    );
    expect(() => unseal(rootA, v1.key_versions.sealedMaterial, { ...ctx, version: 99 })).toThrow(
      /authentication failed/,
    );
  });

  it("root-key rotation re-seals every version and every credential, once, and records it in the ledger", async () => {
    const { db } = database();
    const credentials = Buffer.from(
      JSON.stringify({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t" }),
    );
    await db.insert(kms).values({
      name: "aws-test",
      provider: "awskms",
      keyCollection: "eu-west-1",
      sealedCredentials: seal(rootA, credentials, { purpose: "kms-credentials", name: "aws-test" }),
      credentialsRootKeyId: rootA.id,
    });
    const ringB: RootKeyRing = { current: rootB, all: [rootB, rootA] };

    const first = await resealAll(db, ringB, 5);
    expect(first).toEqual({ keyVersions: KEY_TYPES.length * 2, kmsCredentials: 1, remaining: 0 });
    expect(await resealAll(db, ringB, 5)).toEqual({ keyVersions: 0, kmsCredentials: 0, remaining: 0 });

    const ringOnlyB: RootKeyRing = { current: rootB, all: [rootB] };
    for (const [id, { material }] of plaintexts) {
      const [name, version] = id.split("/") as [string, string];
      await withKeyMaterial(db, ringOnlyB, name, Number(version), (m) =>
        expect(m.equals(material)).toBe(true),
      );
    }
    const [dest] = await db.select().from(kms).where(eq(kms.name, "aws-test"));
    expect(dest?.credentialsRootKeyId).toBe(rootB.id);
    expect(
      unseal(rootB, dest?.sealedCredentials ?? Buffer.alloc(0), {
        purpose: "kms-credentials",
        name: "aws-test",
      }),
    ).toEqual(credentials);
    await expect(withKeyMaterial(db, ringA, "custody-rsa-2048", 1, () => 0)).rejects.toMatchObject({
      code: "root_key_unknown",
    });
    const events = await db.select().from(ledgerPending).where(eq(ledgerPending.event, "root_key.resealed"));
    expect(events[0]?.data).toEqual({ rootKeyId: rootB.id, ...first });
  });
});

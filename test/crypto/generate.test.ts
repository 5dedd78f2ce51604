import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyMaterial, materialMatchesType, publicKeyOf } from "../../src/crypto/generate.js";
import type { KeyType } from "../../src/crypto/key-types.js";

const execFileAsync = promisify(execFile);

// What OpenSSL itself says about each type: the check is independent of Node's view of the key.
const OPENSSL_EXPECTS: Record<Exclude<KeyType, "aes256-gcm96">, string[]> = {
  "rsa-2048": ["Private-Key: (2048 bit", "publicExponent: 65537"],
  "rsa-3072": ["Private-Key: (3072 bit", "publicExponent: 65537"],
  "rsa-4096": ["Private-Key: (4096 bit", "publicExponent: 65537"],
  "ecdsa-p256": ["Private-Key: (256 bit", "ASN1 OID: prime256v1", "NIST CURVE: P-256"],
  "ecdsa-p384": ["Private-Key: (384 bit", "ASN1 OID: secp384r1", "NIST CURVE: P-384"],
  "ecdsa-p521": ["Private-Key: (521 bit", "ASN1 OID: secp521r1", "NIST CURVE: P-521"],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "keyferry-generate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openssl(args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync("openssl", args, { encoding: "buffer" });
  return stdout;
}

describe("generateKeyMaterial", () => {
  for (const [type, expected] of Object.entries(OPENSSL_EXPECTS) as Array<[KeyType, string[]]>) {
    it(`${type}: PKCS#8 DER that openssl reads as the right key, with our SPKI as its public key`, async () => {
      const { material, publicKey } = await generateKeyMaterial(type);
      const file = join(dir, `${type}.der`);
      await writeFile(file, material, { mode: 0o600 });

      const text = (await openssl(["pkey", "-inform", "DER", "-in", file, "-noout", "-text"])).toString();
      for (const line of expected) expect(text).toContain(line);
      // `openssl pkcs8` without -topk8 accepts only PrivateKeyInfo, not PKCS#1 or SEC1 structures.
      await expect(openssl(["pkcs8", "-inform", "DER", "-nocrypt", "-in", file])).resolves.toBeDefined();
      const spki = await openssl(["pkey", "-inform", "DER", "-in", file, "-pubout", "-outform", "DER"]);
      expect(publicKey?.equals(spki)).toBe(true);

      expect(publicKeyOf(type, material).equals(spki)).toBe(true);
      expect(materialMatchesType(type, material)).toBe(true);
    });
  }

  it("aes256-gcm96: 32 random bytes, no public key, different every time", async () => {
    const first = await generateKeyMaterial("aes256-gcm96");
    const second = await generateKeyMaterial("aes256-gcm96");
    expect(first.material).toHaveLength(32);
    expect(first.publicKey).toBeUndefined();
    expect(first.material.equals(second.material)).toBe(false);
    expect(materialMatchesType("aes256-gcm96", first.material)).toBe(true);
    expect(() => publicKeyOf("aes256-gcm96", first.material)).toThrow(/aes256-gcm96 keys have no public key/);
  });

  it("leaves the event loop free while an RSA-4096 key is generated", async () => {
    let pending = true;
    let ticks = 0;
    const tick = () => {
      if (!pending) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await generateKeyMaterial("rsa-4096").finally(() => {
      pending = false;
    });
    // A synchronous generation would settle before the first setImmediate callback could run.
    expect(ticks).toBeGreaterThan(0);
  });

  it("completes several RSA-4096 generations in parallel, each a different key", async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => generateKeyMaterial("rsa-4096")));
    const publicKeys = new Set(keys.map((key) => key.publicKey?.toString("hex")));
    expect(publicKeys.size).toBe(4);
    for (const key of keys) expect(materialMatchesType("rsa-4096", key.material)).toBe(true);
  });
});

describe("publicKeyOf and materialMatchesType", () => {
  let p256: Buffer;
  let rsa2048: Buffer;
  beforeAll(async () => {
    p256 = (await generateKeyMaterial("ecdsa-p256")).material;
    rsa2048 = (await generateKeyMaterial("rsa-2048")).material;
  });

  it("refuses material of another curve, size or family, naming the expected type", () => {
    expect(() => publicKeyOf("ecdsa-p384", p256)).toThrow(
      /not a valid ecdsa-p384 private key: its curve is prime256v1/,
    );
    expect(() => publicKeyOf("rsa-3072", rsa2048)).toThrow(
      /not a valid rsa-3072 private key: its modulus has 2048 bits/,
    );
    expect(() => publicKeyOf("rsa-2048", p256)).toThrow(
      /not a valid rsa-2048 private key: its algorithm is ec/,
    );
    expect(materialMatchesType("ecdsa-p384", p256)).toBe(false);
    expect(materialMatchesType("rsa-4096", rsa2048)).toBe(false);
    expect(materialMatchesType("aes256-gcm96", p256)).toBe(false);
  });

  it("refuses bytes that are not exactly one PKCS#8 object", () => {
    const trailing = Buffer.concat([p256, Buffer.from([0, 0])]);
    expect(() => publicKeyOf("ecdsa-p256", trailing)).toThrow(/not a single DER object/);
    expect(() => publicKeyOf("ecdsa-p256", Buffer.alloc(32))).toThrow(/ecdsa-p256/);
    expect(materialMatchesType("ecdsa-p256", p256.subarray(0, p256.length - 1))).toBe(false);
    expect(materialMatchesType("ecdsa-p256", new Uint8Array(0))).toBe(false);
  });

  it("throws CryptoError with a stable code", () => {
    expect(() => publicKeyOf("ecdsa-p384", p256)).toThrow(
      expect.objectContaining({ code: "key_material_mismatch" }),
    );
  });
});

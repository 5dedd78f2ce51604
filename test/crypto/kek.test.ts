import {
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { kekFingerprint, modulusBytes, parseKekPublicKey } from "../../src/crypto/kek.js";
import { oaepMaxPlaintextBytes, rsaOaepDecrypt, rsaOaepEncrypt } from "../../src/crypto/rsa-wrap.js";
import { CryptoError } from "../../src/errors/crypto-error.js";
import { refusal } from "../helpers/crypto-fixtures.js";
import { opensslOaepDecrypt, opensslSpkiSha256 } from "../helpers/openssl.js";

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A syntactically valid RSA public key of `bits` bits (random odd-looking modulus, top bit set), for
 * parsing tests that need no private half: generating real 4096/8192-bit keys would cost seconds.
 */
function syntheticRsaPublicKey(bits: number): KeyObject {
  const n = Buffer.concat([Buffer.from([0xc5]), randomBytes(bits / 8 - 1)]);
  return createPublicKey({ key: { kty: "RSA", n: n.toString("base64url"), e: "AQAB" }, format: "jwk" });
}

let kek: { publicKey: KeyObject; privateKey: KeyObject };

beforeAll(async () => {
  kek = await generateKeyPairAsync("rsa", { modulusLength: 2048 });
});

describe("parseKekPublicKey accepts every form the clouds hand out", () => {
  it("takes SPKI PEM, PKCS#1 PEM, DER SPKI, PEM bytes and KeyObjects to the same key", () => {
    const spkiDer = kek.publicKey.export({ type: "spki", format: "der" });
    const inputs = [
      kek.publicKey.export({ type: "spki", format: "pem" }),
      kek.publicKey.export({ type: "pkcs1", format: "pem" }),
      spkiDer,
      new Uint8Array(spkiDer),
      Buffer.from(kek.publicKey.export({ type: "spki", format: "pem" })),
      kek.publicKey,
    ];
    for (const input of inputs) {
      const parsed = parseKekPublicKey(input);
      expect(parsed.type).toBe("public");
      expect(parsed.export({ type: "spki", format: "der" }).equals(spkiDer)).toBe(true);
    }
  });

  it("accepts 2048, 3072 and 4096 bits", () => {
    for (const bits of [2048, 3072, 4096]) {
      expect(modulusBytes(parseKekPublicKey(syntheticRsaPublicKey(bits)))).toBe(bits / 8);
    }
  });
});

describe("parseKekPublicKey refuses what is not an RSA 2048..4096 public key", () => {
  const rsa8192 = syntheticRsaPublicKey(8192);
  const cases: Array<[string, () => unknown]> = [
    ["an EC P-256 key", () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey],
    [
      "an Ed25519 key as PEM",
      () => generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }),
    ],
    ["RSA-1024", () => generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey],
    ["RSA-8192", () => rsa8192.export({ type: "spki", format: "der" })],
    ["a private key PEM", () => kek.privateKey.export({ type: "pkcs8", format: "pem" })],
    ["a private KeyObject", () => kek.privateKey],
    ["PKCS#8 private DER", () => kek.privateKey.export({ type: "pkcs8", format: "der" })],
    ["garbage text", () => "not a key"],
    ["garbage bytes", () => randomBytes(300)],
    ["DER-looking garbage", () => Buffer.concat([Buffer.from([0x30]), randomBytes(40)])],
    ["a corrupted PEM", () => "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"],
    ["two PEM blocks", () => `${kek.publicKey.export({ type: "spki", format: "pem" })}`.repeat(2)],
    ["a number", () => 42],
  ];

  it.each(cases)("refuses %s with invalid_kek naming the field", (_name, make) => {
    const error = refusal(() => parseKekPublicKey(make() as string, "wrappingKey"));
    expect(error.code).toBe("invalid_kek");
    expect(error.status).toBe(422);
    expect(error.details).toEqual({ field: "wrappingKey" });
    expect(error.message).toMatch(/^wrappingKey /);
  });

  it("says how many bits it got", () => {
    expect(refusal(() => parseKekPublicKey(rsa8192)).message).toMatch(/got 8192/);
  });
});

describe("kekFingerprint", () => {
  it("is the SHA-256 of the DER SPKI, as openssl computes it", async () => {
    const pem = kek.publicKey.export({ type: "spki", format: "pem" }).toString();
    const fingerprint = kekFingerprint(parseKekPublicKey(pem));
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint).toBe(await opensslSpkiSha256(pem));
  });

  it("does not depend on the form the KEK arrived in", () => {
    const fromPkcs1 = kekFingerprint(
      parseKekPublicKey(kek.publicKey.export({ type: "pkcs1", format: "pem" })),
    );
    const fromDer = kekFingerprint(parseKekPublicKey(kek.publicKey.export({ type: "spki", format: "der" })));
    expect(fromPkcs1).toBe(fromDer);
  });
});

describe("RSA-OAEP under the KEK", () => {
  it.each([
    ["sha1", 214],
    ["sha256", 190],
  ] as const)("%s carries exactly the RFC 8017 limit under RSA-2048 (%i bytes)", async (hash, limit) => {
    expect(oaepMaxPlaintextBytes(256, hash)).toBe(limit);
    const data = randomBytes(limit);
    const encrypted = rsaOaepEncrypt(kek.publicKey, data, hash);
    expect(encrypted.length).toBe(256);
    const pem = kek.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect((await opensslOaepDecrypt(pem, encrypted, hash)).equals(data)).toBe(true);
    expect(() => rsaOaepEncrypt(kek.publicKey, randomBytes(limit + 1), hash)).toThrow();
  });

  it("reports a decryption under the wrong hash as a CryptoError", () => {
    const encrypted = rsaOaepEncrypt(kek.publicKey, randomBytes(32), "sha256");
    expect(() => rsaOaepDecrypt(kek.privateKey, encrypted, "sha1")).toThrow(CryptoError);
  });
});

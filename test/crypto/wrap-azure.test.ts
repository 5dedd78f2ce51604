import { generateKeyPair, type KeyObject, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { KEY_TYPES } from "../../src/crypto/key-types.js";
import { buildByokFile, parseByokFile, unwrapAzure, wrapForAzure } from "../../src/crypto/wrap-azure.js";
import { CryptoError } from "../../src/errors/crypto-error.js";
import { InvalidInputError } from "../../src/errors/invalid-input-error.js";
import { KEK_BITS, refusal, wrappingFixtures } from "../helpers/crypto-fixtures.js";
import { opensslRsaAesUnwrap, opensslRsaAesWrap } from "../helpers/openssl.js";

const generateKeyPairAsync = promisify(generateKeyPair);

const KEK_ID = "https://contoso.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";
const { generate, kekOf, materialOf } = wrappingFixtures();

beforeAll(generate);

// Azure carries every key type keyferry has (oct-HSM only on Managed HSM, but the wrapping is the same).
const cases = KEY_TYPES.flatMap((keyType) => KEK_BITS.map((bits) => [keyType, bits] as const));

describe("CKM_RSA_AES_KEY_WRAP round trips through openssl (OAEP SHA-1, MGF1 SHA-1)", () => {
  it.for(cases)("%s material, RSA-%i KEK: keyferry's .byok, openssl unwraps", async ([keyType, bits]) => {
    const material = materialOf(keyType);
    const kek = kekOf(bits);
    const file = parseByokFile(buildByokFile({ material, kek: kek.publicPem, kekId: KEK_ID }));
    expect(file.ciphertext.length).toBe(bits / 8 + 8 + Math.ceil(material.length / 8) * 8);
    const unwrapped = await opensslRsaAesUnwrap(kek.privatePem, file.ciphertext, bits / 8, "sha1");
    expect(unwrapped.equals(material)).toBe(true);
  });

  it.for(cases)("%s material, RSA-%i KEK: openssl wraps, unwrapAzure recovers", async ([keyType, bits]) => {
    const material = materialOf(keyType);
    const kek = kekOf(bits);
    const ciphertext = await opensslRsaAesWrap(kek.publicDer, material, "sha1");
    expect(unwrapAzure({ kekPrivateKey: kek.privateKey, ciphertext }).equals(material)).toBe(true);
  });
});

describe("the .byok file", () => {
  it("has exactly the shape of the BYOK specification", () => {
    const bytes = buildByokFile({
      material: materialOf("rsa-2048"),
      kek: kekOf(4096).publicKey,
      kekId: KEK_ID,
    });
    const json = JSON.parse(bytes.toString("utf8"));
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(Object.keys(json)).toEqual(["schema_version", "header", "ciphertext", "generator"]);
    expect(json.schema_version).toBe("1.0.0");
    expect(json.header).toEqual({ kid: KEK_ID, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" });
    expect(json.generator).toBe(`keyferry ${version}`);
    expect(json.ciphertext).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
    expect(Buffer.from(json.ciphertext, "base64url").toString("base64url")).toBe(json.ciphertext);
  });

  it("takes a caller's generator and parses back what it wrote", () => {
    const bytes = buildByokFile({
      material: materialOf("ecdsa-p256"),
      kek: kekOf(2048).publicDer,
      kekId: KEK_ID,
      generator: "keyferry test",
    });
    const parsed = parseByokFile(bytes);
    expect(parsed.kid).toBe(KEK_ID);
    expect(parsed.generator).toBe("keyferry test");
    expect(unwrapAzure({ kekPrivateKey: kekOf(2048).privateKey, ciphertext: parsed.ciphertext })).toEqual(
      materialOf("ecdsa-p256"),
    );
  });

  const valid = () =>
    JSON.parse(
      buildByokFile({ material: randomBytes(32), kek: kekOf(2048).publicKey, kekId: KEK_ID }).toString(),
    );
  it.each([
    ["not JSON", () => "{nope", "byok"],
    ["another schema version", () => ({ ...valid(), schema_version: "2.0.0" }), "schema_version"],
    ["another enc", () => ({ ...valid(), header: { ...valid().header, enc: "RSA-OAEP" } }), "header.enc"],
    ["another alg", () => ({ ...valid(), header: { ...valid().header, alg: "RSA-OAEP-256" } }), "header.alg"],
    ["no kid", () => ({ ...valid(), header: { alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" } }), "header.kid"],
    ["standard base64 ciphertext", () => ({ ...valid(), ciphertext: "ab+/cd" }), "ciphertext"],
    ["no generator", () => ({ ...valid(), generator: undefined }), "generator"],
  ])("refuses %s, naming the field", (_name, make, field) => {
    const value = make();
    const text = typeof value === "string" ? value : JSON.stringify(value);
    try {
      parseByokFile(text);
      throw new Error("expected a refusal");
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).code).toBe("invalid_byok_file");
      expect((error as InvalidInputError).details).toEqual({ field });
    }
  });
});

const refusalCode = (action: () => unknown): string => refusal(action).code;

describe("refusals", () => {
  it("refuses a KEK that is not RSA 2048..4096", async () => {
    const ec = (await generateKeyPairAsync("ec", { namedCurve: "prime256v1" })).publicKey;
    const small = (await generateKeyPairAsync("rsa", { modulusLength: 1024 })).publicKey;
    for (const kek of [ec, small, "garbage"]) {
      expect(refusalCode(() => buildByokFile({ material: randomBytes(32), kek, kekId: KEK_ID }))).toBe(
        "invalid_kek",
      );
    }
  });

  it("refuses an empty kekId and empty material", () => {
    const kek = kekOf(2048).publicKey;
    expect(refusalCode(() => buildByokFile({ material: randomBytes(32), kek, kekId: " " }))).toBe(
      "invalid_kek_id",
    );
    expect(refusalCode(() => wrapForAzure({ material: new Uint8Array(0), kek }))).toBe(
      "invalid_key_material",
    );
  });
});

describe("ephemeral keys and unwrap failures", () => {
  it("uses a fresh AES key for every wrap", () => {
    const material = materialOf("rsa-3072");
    const kwpParts = [1, 2, 3].map(() =>
      wrapForAzure({ material, kek: kekOf(2048).publicKey })
        .subarray(256)
        .toString("hex"),
    );
    // KWP is deterministic: different KWP parts of the same material mean different AES keys.
    expect(new Set(kwpParts).size).toBe(3);
  });

  const unwrapCode = (kekPrivateKey: KeyObject, ciphertext: Uint8Array) => {
    try {
      unwrapAzure({ kekPrivateKey, ciphertext });
    } catch (error) {
      expect(error).toBeInstanceOf(CryptoError);
      return (error as CryptoError).code;
    }
    return "unwrapped";
  };

  it("refuses tampered, truncated and foreign ciphertexts", () => {
    const ciphertext = wrapForAzure({ material: materialOf("ecdsa-p384"), kek: kekOf(3072).publicKey });
    const flipped = Buffer.from(ciphertext);
    flipped[flipped.length - 3] = (flipped[flipped.length - 3] ?? 0) ^ 0x40;
    expect(unwrapCode(kekOf(3072).privateKey, flipped)).toBe("unwrap_failed");
    expect(unwrapCode(kekOf(3072).privateKey, ciphertext.subarray(0, 384 + 8))).toBe("unwrap_failed");
    expect(unwrapCode(kekOf(3072).privateKey, ciphertext.subarray(0, ciphertext.length - 8))).toBe(
      "unwrap_failed",
    );
    expect(unwrapCode(kekOf(4096).privateKey, ciphertext)).toBe("unwrap_failed");
    expect(unwrapCode(kekOf(3072).privateKey, ciphertext)).toBe("unwrapped");
  });
});

import { createPrivateKey, generateKeyPair, type KeyObject, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { KEY_TYPE_INFO, KEY_TYPES, type KeyType } from "../../src/crypto/key-types.js";
import { rsaOaepDecrypt } from "../../src/crypto/rsa-wrap.js";
import {
  AWS_WRAPPING_ALGORITHMS,
  type AwsWrappingAlgorithm,
  awsAlgorithmsFor,
  unwrapAws,
  wrapForAws,
} from "../../src/crypto/wrap-aws.js";
import { CryptoError } from "../../src/errors/crypto-error.js";
import { KEK_BITS, refusal, wrappingFixtures } from "../helpers/crypto-fixtures.js";
import {
  type OpensslHash,
  opensslOaepDecrypt,
  opensslOaepEncrypt,
  opensslRsaAesUnwrap,
  opensslRsaAesWrap,
} from "../helpers/openssl.js";

const generateKeyPairAsync = promisify(generateKeyPair);

const { generate, kekOf, materialOf } = wrappingFixtures();

beforeAll(generate);

/** The rule table as the AWS docs state it, written out independently of the code under test. */
const DOCUMENTED: Record<AwsWrappingAlgorithm, ReadonlyArray<"aes" | "rsa" | "ec">> = {
  RSAES_OAEP_SHA_1: ["aes", "ec"],
  RSAES_OAEP_SHA_256: ["aes", "ec"],
  RSA_AES_KEY_WRAP_SHA_1: ["rsa", "ec"],
  RSA_AES_KEY_WRAP_SHA_256: ["rsa", "ec"],
};
const hashOf = (algorithm: AwsWrappingAlgorithm): OpensslHash =>
  algorithm.endsWith("SHA_256") ? "sha256" : "sha1";
const isHybrid = (algorithm: AwsWrappingAlgorithm) => algorithm.startsWith("RSA_AES_KEY_WRAP");

const cases = AWS_WRAPPING_ALGORITHMS.flatMap((algorithm) =>
  KEY_TYPES.filter((keyType) => DOCUMENTED[algorithm].includes(KEY_TYPE_INFO[keyType].family)).flatMap(
    (keyType) =>
      KEK_BITS.filter((bits) => isHybrid(algorithm) || !(keyType === "ecdsa-p521" && bits === 2048)).map(
        (bits) => [algorithm, keyType, bits] as const,
      ),
  ),
);

describe("test material", () => {
  it("is PKCS#8 DER for RSA and EC and 32 bytes for AES", () => {
    for (const keyType of KEY_TYPES) {
      const material = materialOf(keyType);
      if (KEY_TYPE_INFO[keyType].family === "aes") expect(material.length).toBe(32);
      else expect(createPrivateKey({ key: material, format: "der", type: "pkcs8" }).type).toBe("private");
    }
  });

  it("covers every supported combination", () => {
    expect(cases.length).toBe(2 * 6 * 3 + 2 * (4 * 3 - 1));
  });
});

describe("every documented combination round-trips through openssl", () => {
  it.for(cases)(
    "%s, %s material, RSA-%i: keyferry wraps, openssl unwraps",
    async ([algorithm, keyType, bits]) => {
      const material = materialOf(keyType);
      const kek = kekOf(bits);
      const hash = hashOf(algorithm);
      const wrapped = wrapForAws({ material, keyType, wrappingKey: kek.publicDer, algorithm });
      const rsaBytes = bits / 8;
      if (isHybrid(algorithm)) {
        expect(wrapped.length).toBe(rsaBytes + 8 + Math.ceil(material.length / 8) * 8);
        expect((await opensslRsaAesUnwrap(kek.privatePem, wrapped, rsaBytes, hash)).equals(material)).toBe(
          true,
        );
      } else {
        expect(wrapped.length).toBe(rsaBytes);
        expect((await opensslOaepDecrypt(kek.privatePem, wrapped, hash)).equals(material)).toBe(true);
      }
    },
  );

  it.for(cases)(
    "%s, %s material, RSA-%i: openssl wraps as the AWS guide does, unwrapAws recovers",
    async ([algorithm, keyType, bits]) => {
      const material = materialOf(keyType);
      const kek = kekOf(bits);
      const hash = hashOf(algorithm);
      const wrapped = isHybrid(algorithm)
        ? await opensslRsaAesWrap(kek.publicDer, material, hash)
        : await opensslOaepEncrypt(kek.publicDer, material, hash);
      const unwrapped = unwrapAws({ privateKey: kek.privateKey, algorithm, encryptedKeyMaterial: wrapped });
      expect(unwrapped.equals(material)).toBe(true);
    },
  );
});

describe("the AWS rule table", () => {
  it("offers for each key type what the docs allow, SHA-256 first", () => {
    expect(awsAlgorithmsFor("aes256-gcm96")).toEqual(["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]);
    expect(awsAlgorithmsFor("rsa-3072")).toEqual(["RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1"]);
    expect(awsAlgorithmsFor("ecdsa-p384")).toEqual([...AWS_WRAPPING_ALGORITHMS]);
  });

  it.each(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] as const)(
    "refuses RSA material under %s",
    (algorithm) => {
      const error = refusal(() =>
        wrapForAws({
          material: materialOf("rsa-2048"),
          keyType: "rsa-2048",
          wrappingKey: kekOf(4096).publicKey,
          algorithm,
        }),
      );
      expect(error.code).toBe("wrapping_algorithm_not_allowed");
      expect(error.message).toMatch(/RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1/);
    },
  );

  it.each(["RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"] as const)(
    "refuses AES material under %s",
    (algorithm) => {
      const error = refusal(() =>
        wrapForAws({
          material: materialOf("aes256-gcm96"),
          keyType: "aes256-gcm96",
          wrappingKey: kekOf(2048).publicKey,
          algorithm,
        }),
      );
      expect(error.code).toBe("wrapping_algorithm_not_allowed");
    },
  );

  it.each(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] as const)(
    "refuses P-521 PKCS#8 under RSA-2048 with %s as too large",
    (algorithm) => {
      const material = materialOf("ecdsa-p521");
      const error = refusal(() =>
        wrapForAws({ material, keyType: "ecdsa-p521", wrappingKey: kekOf(2048).publicDer, algorithm }),
      );
      expect(error.code).toBe("key_material_too_large");
      expect(error.details).toMatchObject({
        field: "material",
        limit: algorithm.endsWith("256") ? 190 : 214,
      });
      expect(error.message).toContain(`${material.length} bytes`);
    },
  );

  it("refuses P-521 under RSA-2048 with RSAES_OAEP_* even when the encoding would fit", () => {
    const short = Buffer.concat([Buffer.from([0x30]), randomBytes(120)]);
    const error = refusal(() =>
      wrapForAws({
        material: short,
        keyType: "ecdsa-p521",
        wrappingKey: kekOf(2048).publicKey,
        algorithm: "RSAES_OAEP_SHA_256",
      }),
    );
    expect(error.code).toBe("wrapping_algorithm_not_allowed");
  });
});

describe("other refusals", () => {
  const base = () => ({
    material: materialOf("ecdsa-p256"),
    keyType: "ecdsa-p256" as KeyType,
    wrappingKey: kekOf(2048).publicDer as Uint8Array | KeyObject,
    algorithm: "RSA_AES_KEY_WRAP_SHA_256" as AwsWrappingAlgorithm,
  });

  it.each([
    ["RSAES_PKCS1_V1_5, no longer accepted", { algorithm: "RSAES_PKCS1_V1_5" }, "unknown_wrapping_algorithm"],
    ["an unknown key type", { keyType: "des3" }, "invalid_key_type"],
    [
      "16-byte AES material",
      { keyType: "aes256-gcm96", material: randomBytes(16), algorithm: "RSAES_OAEP_SHA_256" },
      "invalid_key_material",
    ],
    [
      "a raw EC scalar instead of PKCS#8",
      { material: Buffer.concat([Buffer.from([0x04]), randomBytes(32)]) },
      "invalid_key_material",
    ],
    ["an EC wrapping key", { wrappingKey: "ec" }, "invalid_kek"],
    ["an RSA-1024 wrapping key", { wrappingKey: "rsa1024" }, "invalid_kek"],
  ] as const)("refuses %s", async (_name, change, code) => {
    const wrappingKey =
      "wrappingKey" in change
        ? change.wrappingKey === "ec"
          ? (await generateKeyPairAsync("ec", { namedCurve: "prime256v1" })).publicKey
          : (await generateKeyPairAsync("rsa", { modulusLength: 1024 })).publicKey
        : base().wrappingKey;
    const input = { ...base(), ...change, wrappingKey } as Parameters<typeof wrapForAws>[0];
    const error = refusal(() => wrapForAws(input));
    expect(error.code).toBe(code);
    expect(error.details?.field).toBeDefined();
  });
});

describe("ephemeral AES keys and unwrap failures", () => {
  it("uses a fresh AES key for every wrap", () => {
    const kek = kekOf(2048);
    const material = materialOf("ecdsa-p256");
    const wraps = [1, 2, 3].map(() =>
      wrapForAws({
        material,
        keyType: "ecdsa-p256",
        wrappingKey: kek.publicKey,
        algorithm: "RSA_AES_KEY_WRAP_SHA_256",
      }),
    );
    const aesKeys = wraps.map((wrapped) =>
      rsaOaepDecrypt(kek.privateKey, wrapped.subarray(0, 256), "sha256").toString("hex"),
    );
    expect(new Set(aesKeys).size).toBe(3);
    // KWP is deterministic: different KWP parts for the same material also prove the keys differ.
    expect(new Set(wraps.map((wrapped) => wrapped.subarray(256).toString("hex"))).size).toBe(3);
  });

  it.each([
    [
      "a flipped KWP bit",
      (blob: Buffer) => blob.writeUInt8((blob.at(-1) ?? 0) ^ 1, blob.length - 1),
      "RSA_AES_KEY_WRAP_SHA_256",
    ],
    [
      "a flipped RSA bit",
      (blob: Buffer) => blob.writeUInt8((blob.at(10) ?? 0) ^ 1, 10),
      "RSA_AES_KEY_WRAP_SHA_256",
    ],
    ["the other hash", () => undefined, "RSA_AES_KEY_WRAP_SHA_1"],
  ] as const)("refuses %s with CryptoError unwrap_failed, naming no bytes", (_name, tamper, unwrapAs) => {
    const kek = kekOf(3072);
    const material = materialOf("rsa-2048");
    const wrapped = wrapForAws({
      material,
      keyType: "rsa-2048",
      wrappingKey: kek.publicKey,
      algorithm: "RSA_AES_KEY_WRAP_SHA_256",
    });
    tamper(wrapped);
    let caught: unknown;
    try {
      unwrapAws({ privateKey: kek.privateKey, algorithm: unwrapAs, encryptedKeyMaterial: wrapped });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CryptoError);
    expect((caught as CryptoError).code).toBe("unwrap_failed");
    expect((caught as CryptoError).message).not.toMatch(/[0-9a-f]{16}/i);
  });

  it("refuses a ciphertext made for another wrapping key", () => {
    const material = materialOf("aes256-gcm96");
    const wrapped = wrapForAws({
      material,
      keyType: "aes256-gcm96",
      wrappingKey: kekOf(2048).publicKey,
      algorithm: "RSAES_OAEP_SHA_256",
    });
    expect(() =>
      unwrapAws({
        privateKey: kekOf(3072).privateKey,
        algorithm: "RSAES_OAEP_SHA_256",
        encryptedKeyMaterial: wrapped,
      }),
    ).toThrow(CryptoError);
  });
});

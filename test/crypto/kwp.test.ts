import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { aesKeyUnwrapPad, aesKeyWrapPad } from "../../src/crypto/kwp.js";
import { CryptoError } from "../../src/errors/crypto-error.js";
import { InvalidInputError } from "../../src/errors/invalid-input-error.js";
import rfc5649 from "../fixtures/rfc5649-vectors.json" with { type: "json" };
import { opensslKwp } from "../helpers/openssl.js";

const hex = (value: string) => Buffer.from(value, "hex");

function expectError(
  action: () => unknown,
  type: typeof InvalidInputError | typeof CryptoError,
  code: string,
) {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    expect((error as InvalidInputError).code).toBe(code);
    return error as InvalidInputError;
  }
  throw new Error(`expected ${code}`);
}

describe("RFC 5649 test vectors", () => {
  it("has the section 6 vectors, with their source", () => {
    expect(rfc5649.source).toMatch(/RFC 5649 section 6/);
    expect(rfc5649.vectors.map((vector) => hex(vector.plaintext).length)).toEqual([20, 7]);
  });

  for (const vector of rfc5649.vectors) {
    it(`wraps the ${vector.name} vector`, () => {
      expect(aesKeyWrapPad(hex(vector.kek), hex(vector.plaintext)).toString("hex")).toBe(vector.wrapped);
    });

    it(`unwraps the ${vector.name} vector`, () => {
      expect(aesKeyUnwrapPad(hex(vector.kek), hex(vector.wrapped)).toString("hex")).toBe(vector.plaintext);
    });

    it(`agrees with openssl on the ${vector.name} vector`, async () => {
      expect((await opensslKwp("wrap", hex(vector.kek), hex(vector.plaintext))).toString("hex")).toBe(
        vector.wrapped,
      );
      expect((await opensslKwp("unwrap", hex(vector.kek), hex(vector.wrapped))).toString("hex")).toBe(
        vector.plaintext,
      );
    });
  }
});

describe("tampered or foreign input", () => {
  const [vector] = rfc5649.vectors;
  if (!vector) throw new Error("fixture has no vectors");
  const kek = hex(vector.kek);
  const wrapped = hex(vector.wrapped);

  it("refuses every single-bit flip", () => {
    for (let index = 0; index < wrapped.length; index++) {
      const tampered = Buffer.from(wrapped);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      expectError(() => aesKeyUnwrapPad(kek, tampered), CryptoError, "kwp_unwrap_failed");
    }
  });

  it("refuses a wrong KEK and a truncated ciphertext", () => {
    const otherKek = Buffer.from(kek);
    otherKek[0] = (otherKek[0] ?? 0) ^ 0x80;
    expectError(() => aesKeyUnwrapPad(otherKek, wrapped), CryptoError, "kwp_unwrap_failed");
    expectError(() => aesKeyUnwrapPad(kek, wrapped.subarray(0, 24)), CryptoError, "kwp_unwrap_failed");
  });

  it("refuses non-zero padding, as openssl does", async () => {
    // For one semiblock RFC 5649 is a single AES block: AES(K, AIV || P). Encrypting AIV(MLI 7) || P with
    // a non-zero eighth byte forges a ciphertext whose only defect is its padding.
    const aesKek = randomBytes(32);
    const block = Buffer.from("a659 59a6 0000 0007 0102 0304 0506 0701".replaceAll(" ", ""), "hex");
    const ecb = createCipheriv("aes-256-ecb", aesKek, null).setAutoPadding(false);
    const forged = Buffer.concat([ecb.update(block), ecb.final()]);
    expectError(() => aesKeyUnwrapPad(aesKek, forged), CryptoError, "kwp_unwrap_failed");
    await expect(opensslKwp("unwrap", aesKek, forged)).rejects.toThrow();
    block[15] = 0;
    const again = createCipheriv("aes-256-ecb", aesKek, null).setAutoPadding(false);
    const honest = Buffer.concat([again.update(block), again.final()]);
    expect(aesKeyUnwrapPad(aesKek, honest).toString("hex")).toBe("01020304050607");
  });

  it("does not modify its inputs", () => {
    const copy = Buffer.from(wrapped);
    aesKeyUnwrapPad(kek, wrapped);
    expect(wrapped.equals(copy)).toBe(true);
  });
});

describe("interoperability with openssl -id-aes256-wrap-pad", () => {
  // Lengths around semiblock boundaries, plus the sizes of real material: AES-256, P-256..P-521 and
  // RSA-2048..4096 PKCS#8.
  const lengths = [1, 7, 8, 9, 15, 16, 17, 32, 138, 185, 241, 1217, 1793, 2375];

  it.each(lengths)(
    "%i bytes: keyferry and openssl produce identical wraps and undo each other's",
    async (length) => {
      const kek = randomBytes(32);
      const plaintext = randomBytes(length);
      const ours = aesKeyWrapPad(kek, plaintext);
      expect(ours.length).toBe(8 + Math.ceil(length / 8) * 8);
      const theirs = await opensslKwp("wrap", kek, plaintext);
      // KWP is deterministic, so byte equality is the strongest check there is.
      expect(ours.equals(theirs)).toBe(true);
      expect((await opensslKwp("unwrap", kek, ours)).equals(plaintext)).toBe(true);
      expect(aesKeyUnwrapPad(kek, theirs).equals(plaintext)).toBe(true);
    },
  );
});

describe("boundary checks name the field", () => {
  const kek = randomBytes(32);

  it("refuses a KEK that is not an AES key", () => {
    for (const bad of [randomBytes(0), randomBytes(20), randomBytes(33)]) {
      const error = expectError(
        () => aesKeyWrapPad(bad, randomBytes(8)),
        InvalidInputError,
        "invalid_kwp_input",
      );
      expect(error.details).toEqual({ field: "kek" });
      expect(error.message).toMatch(/^kek /);
    }
  });

  it("refuses empty plaintext and non-bytes", () => {
    expect(
      expectError(() => aesKeyWrapPad(kek, new Uint8Array(0)), InvalidInputError, "invalid_kwp_input")
        .details,
    ).toEqual({
      field: "plaintext",
    });
    const notBytes = "secret" as unknown as Uint8Array;
    expect(
      expectError(() => aesKeyWrapPad(kek, notBytes), InvalidInputError, "invalid_kwp_input").details,
    ).toEqual({
      field: "plaintext",
    });
  });

  it("refuses wrapped input of an impossible length", () => {
    for (const length of [0, 8, 15, 17, 23]) {
      const error = expectError(
        () => aesKeyUnwrapPad(kek, randomBytes(length)),
        InvalidInputError,
        "invalid_kwp_input",
      );
      expect(error.details).toEqual({ field: "wrapped" });
    }
  });
});

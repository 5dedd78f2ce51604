import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { expect } from "vitest";
import { KEY_TYPES, type KeyType } from "../../src/crypto/key-types.js";
import { InvalidInputError } from "../../src/errors/invalid-input-error.js";
import { opensslGenerateMaterial } from "./openssl.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export const KEK_BITS = [2048, 3072, 4096] as const;
export type KekBits = (typeof KEK_BITS)[number];

/** An RSA key pair in every form the wrapping tests hand to keyferry or to openssl. */
export interface Kek {
  publicKey: KeyObject;
  privateKey: KeyObject;
  publicPem: string;
  /** DER SPKI: what GetParametersForImport returns as PublicKey. */
  publicDer: Buffer;
  privatePem: string;
}

export async function generateKek(bits: number): Promise<Kek> {
  const { publicKey, privateKey } = await generateKeyPairAsync("rsa", { modulusLength: bits });
  return {
    publicKey,
    privateKey,
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    publicDer: publicKey.export({ type: "spki", format: "der" }),
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/**
 * KEKs of every size and material of every key type made by the openssl CLI (not by keyferry), generated
 * in parallel; call from `beforeAll` and read with `kekOf` / `materialOf` inside tests.
 */
export function wrappingFixtures() {
  const keks = new Map<KekBits, Kek>();
  const materials = new Map<KeyType, Buffer>();
  return {
    async generate(): Promise<void> {
      await Promise.all([
        ...KEK_BITS.map(async (bits) => keks.set(bits, await generateKek(bits))),
        ...KEY_TYPES.map(async (keyType) => materials.set(keyType, await opensslGenerateMaterial(keyType))),
      ]);
    },
    kekOf: (bits: KekBits) => keks.get(bits) as Kek,
    materialOf: (keyType: KeyType) => materials.get(keyType) as Buffer,
  };
}

/** The InvalidInputError that `action` throws (and a failure if it throws nothing or something else). */
export function refusal(action: () => unknown): InvalidInputError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error("expected a refusal");
}

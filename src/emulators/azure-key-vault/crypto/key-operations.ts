import { badParameter } from "../errors.js";
import type { KeySecret } from "../state/model.js";
import { gcmDecrypt, gcmEncrypt, keyUnwrap, keyWrap } from "./aes.js";
import { ecdsaSignDigest, ecdsaVerifyDigest } from "./ecdsa.js";
import {
  type RsaEncryptionAlgorithm,
  rsaDecrypt,
  rsaEncrypt,
  rsaSignDigest,
  rsaVerifyDigest,
} from "./rsa.js";

/**
 * The six cryptographic operations of the keys API, named as the SDK's methods and as the `key_ops` values
 * that permit them, dispatched on the key's family and the requested algorithm.
 */

export const CRYPTO_OPERATIONS = ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"] as const;
export type CryptoOperation = (typeof CRYPTO_OPERATIONS)[number];

export interface CryptoInput {
  algorithm: string;
  /** Plaintext, ciphertext, key to wrap, wrapped key, digest to sign, or signature to verify. */
  value: Buffer;
  digest?: Buffer;
  iv?: Buffer;
  aad?: Buffer;
  tag?: Buffer;
}

export type CryptoOutput =
  | { kind: "bytes"; value: Buffer; iv?: Buffer; tag?: Buffer; aad?: Buffer }
  | { kind: "verified"; value: boolean };

const RSA_ENCRYPTION: readonly string[] = ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"];

export function performCryptoOperation(
  operation: CryptoOperation,
  secret: KeySecret,
  input: CryptoInput,
): CryptoOutput {
  const { algorithm } = input;
  switch (secret.family) {
    case "rsa": {
      if (operation === "sign") return bytes(rsaSignDigest(secret.privateKey, algorithm, input.value));
      if (operation === "verify") {
        return verified(rsaVerifyDigest(secret.privateKey, algorithm, requireDigest(input), input.value));
      }
      if (!RSA_ENCRYPTION.includes(algorithm)) throw unsupported(algorithm, "RSA");
      const rsaAlgorithm = algorithm as RsaEncryptionAlgorithm;
      return operation === "encrypt" || operation === "wrapKey"
        ? bytes(rsaEncrypt(secret.privateKey, rsaAlgorithm, input.value))
        : bytes(rsaDecrypt(secret.privateKey, rsaAlgorithm, input.value));
    }
    case "ec": {
      if (operation === "sign")
        return bytes(ecdsaSignDigest(secret.privateKey, secret.curve, algorithm, input.value));
      if (operation === "verify") {
        const digest = requireDigest(input);
        return verified(ecdsaVerifyDigest(secret.privateKey, secret.curve, algorithm, digest, input.value));
      }
      throw badParameter(`Operation ${operation} is not supported by EC keys.`);
    }
    case "oct": {
      if (operation === "encrypt") {
        const result = gcmEncrypt(secret.bytes, algorithm, input.value, input.aad);
        return { kind: "bytes", ...result, ...(input.aad ? { aad: input.aad } : {}) };
      }
      if (operation === "decrypt") {
        return bytes(gcmDecrypt(secret.bytes, algorithm, input.value, input.iv, input.tag, input.aad));
      }
      if (operation === "wrapKey") return bytes(keyWrap(secret.bytes, algorithm, input.value));
      if (operation === "unwrapKey") return bytes(keyUnwrap(secret.bytes, algorithm, input.value));
      throw badParameter(`Operation ${operation} is not supported by AES keys in this emulator.`);
    }
  }
}

function requireDigest(input: CryptoInput): Buffer {
  if (!input.digest) throw badParameter("Property digest is required.");
  return input.digest;
}

function bytes(value: Buffer): CryptoOutput {
  return { kind: "bytes", value };
}

function verified(value: boolean): CryptoOutput {
  return { kind: "verified", value };
}

function unsupported(algorithm: string, family: string): Error {
  return badParameter(`The algorithm ${algorithm} is not supported by ${family} keys.`);
}

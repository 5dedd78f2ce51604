import { constants, type KeyObject, sign, verify } from "node:crypto";
import { ecdsaSignDigest, ecdsaVerifyDigest } from "../../common/ecdsa-digest.js";
import {
  type DigestHash,
  pkcs1SignDigest,
  pkcs1VerifyDigest,
  pssSignDigest,
  pssVerifyDigest,
} from "../../common/rsa-digest.js";
import type { SigningAlgorithm } from "../key-specs.js";

/**
 * KMS's signing algorithms (Sign reference, "Signing algorithms" in the key spec reference): RSASSA-PSS
 * with MGF1 over the same hash and a salt as long as the hash, RSASSA-PKCS1-v1_5, and ECDSA with DER
 * signatures. RAW messages are hashed and signed by OpenSSL through Node; DIGEST messages are signed as
 * given (common/rsa-digest.ts, common/ecdsa-digest.ts).
 */

type Scheme = "pss" | "pkcs1" | "ecdsa";

const SCHEMES: Partial<Record<SigningAlgorithm, { scheme: Scheme; hash: DigestHash }>> = {
  RSASSA_PSS_SHA_256: { scheme: "pss", hash: "sha256" },
  RSASSA_PSS_SHA_384: { scheme: "pss", hash: "sha384" },
  RSASSA_PSS_SHA_512: { scheme: "pss", hash: "sha512" },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: "pkcs1", hash: "sha256" },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: "pkcs1", hash: "sha384" },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: "pkcs1", hash: "sha512" },
  ECDSA_SHA_256: { scheme: "ecdsa", hash: "sha256" },
  ECDSA_SHA_384: { scheme: "ecdsa", hash: "sha384" },
  ECDSA_SHA_512: { scheme: "ecdsa", hash: "sha512" },
};

const DIGEST_BYTES: Readonly<Record<DigestHash, number>> = { sha256: 32, sha384: 48, sha512: 64 };

export type MessageType = "RAW" | "DIGEST";

function schemeOf(algorithm: SigningAlgorithm) {
  const found = SCHEMES[algorithm];
  if (!found) throw new Error(`signing algorithm ${algorithm} is not implemented`);
  return found;
}

/** The digest length DIGEST messages must have for `algorithm`. */
export function digestLength(algorithm: SigningAlgorithm): number {
  return DIGEST_BYTES[schemeOf(algorithm).hash];
}

function rawOptions(key: KeyObject, scheme: Scheme, hash: DigestHash) {
  if (scheme === "pss") {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[hash] };
  }
  if (scheme === "pkcs1") return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: "der" as const };
}

export function signMessage(
  privateKey: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
  type: MessageType,
): Buffer {
  const { scheme, hash } = schemeOf(algorithm);
  if (type === "RAW") return sign(hash, message, rawOptions(privateKey, scheme, hash));
  if (scheme === "pss") return pssSignDigest(privateKey, hash, message);
  if (scheme === "pkcs1") return pkcs1SignDigest(privateKey, hash, message);
  return ecdsaSignDigest(privateKey, message, "der");
}

export function verifyMessage(
  publicKey: KeyObject,
  algorithm: SigningAlgorithm,
  message: Buffer,
  type: MessageType,
  signature: Buffer,
): boolean {
  const { scheme, hash } = schemeOf(algorithm);
  if (type === "RAW") {
    try {
      return verify(hash, message, rawOptions(publicKey, scheme, hash), signature);
    } catch {
      // Malformed signatures (bad DER, wrong length) are invalid signatures, not server errors.
      return false;
    }
  }
  if (scheme === "pss") return pssVerifyDigest(publicKey, hash, message, signature);
  if (scheme === "pkcs1") return pkcs1VerifyDigest(publicKey, hash, message, signature);
  return ecdsaVerifyDigest(publicKey, message, signature, "der");
}

import { constants, type KeyObject, privateDecrypt, publicEncrypt } from "node:crypto";
import {
  pkcs1SignDigest,
  pkcs1VerifyDigest,
  pssSignDigest,
  pssVerifyDigest,
} from "../../common/rsa-digest.js";
import { badParameter } from "../errors.js";
import { type DigestName, digestBytes } from "./digests.js";

/**
 * RSA as Key Vault offers it: RSA-OAEP (SHA-1), RSA-OAEP-256 and RSA1_5 for encrypt/decrypt and
 * wrap/unwrap; RS256..512 (PKCS#1 v1.5) and PS256..512 (PSS, salt as long as the hash, RFC 7518) for
 * signatures over a digest the caller computed (common/rsa-digest.ts).
 */

export type RsaEncryptionAlgorithm = "RSA-OAEP" | "RSA-OAEP-256" | "RSA1_5";

export function rsaEncrypt(key: KeyObject, algorithm: RsaEncryptionAlgorithm, plaintext: Buffer): Buffer {
  try {
    if (algorithm === "RSA1_5")
      return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, plaintext);
    return publicEncrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: algorithm === "RSA-OAEP" ? "sha1" : "sha256",
      },
      plaintext,
    );
  } catch {
    throw badParameter(`The plaintext is too long for ${algorithm} with this key.`);
  }
}

export function rsaDecrypt(key: KeyObject, algorithm: RsaEncryptionAlgorithm, ciphertext: Buffer): Buffer {
  checkLength(key, ciphertext, "value");
  try {
    if (algorithm === "RSA1_5") return pkcs1v15Unpad(rawPrivate(key, ciphertext));
    return privateDecrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: algorithm === "RSA-OAEP" ? "sha1" : "sha256",
      },
      ciphertext,
    );
  } catch {
    throw badParameter(`The ciphertext could not be decrypted with ${algorithm}.`);
  }
}

export function rsaSignDigest(key: KeyObject, algorithm: string, digest: Buffer): Buffer {
  const { hash, pss } = signatureScheme(algorithm, digest);
  return pss ? pssSignDigest(key, hash, digest) : pkcs1SignDigest(key, hash, digest);
}

export function rsaVerifyDigest(
  key: KeyObject,
  algorithm: string,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const { hash, pss } = signatureScheme(algorithm, digest);
  if (signature.length !== Math.ceil(modulusBits(key) / 8)) return false;
  return pss
    ? pssVerifyDigest(key, hash, digest, signature)
    : pkcs1VerifyDigest(key, hash, digest, signature);
}

function signatureScheme(algorithm: string, digest: Buffer): { hash: DigestName; pss: boolean } {
  const match = /^(RS|PS)(256|384|512)$/.exec(algorithm);
  if (!match) throw badParameter(`The algorithm ${algorithm} is not supported by RSA keys.`);
  const hash = `sha${match[2]}` as DigestName;
  if (digest.length !== digestBytes(hash)) {
    throw badParameter(`The digest for ${algorithm} must be ${digestBytes(hash)} bytes.`);
  }
  return { hash, pss: match[1] === "PS" };
}

/**
 * RSAES-PKCS1-v1_5 decoding (RFC 8017 section 7.2.2) after a raw private operation: Node 20 refuses
 * PKCS#1 v1.5 private decryption outright (the Marvin attack), while Key Vault still offers RSA1_5.
 */
function pkcs1v15Unpad(em: Buffer): Buffer {
  const separator = em.indexOf(0x00, 2);
  if (em[0] !== 0x00 || em[1] !== 0x02 || separator < 10) throw new Error("bad padding");
  return em.subarray(separator + 1);
}

function rawPrivate(key: KeyObject, block: Buffer): Buffer {
  return privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block);
}

function checkLength(key: KeyObject, data: Buffer, field: string): void {
  const bytes = Math.ceil(modulusBits(key) / 8);
  if (data.length !== bytes) throw badParameter(`Property ${field} must be ${bytes} bytes for this key.`);
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

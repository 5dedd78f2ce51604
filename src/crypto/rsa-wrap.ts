import { constants, KeyObject, privateDecrypt, publicEncrypt, randomFillSync } from "node:crypto";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { modulusBytes } from "./kek.js";
import { aesKeyUnwrapPad, aesKeyWrapPad } from "./kwp.js";
import { zero } from "./zero.js";

/**
 * The two ways keyferry encrypts under an RSA KEK: RSA-OAEP of raw bytes, and PKCS#11's
 * CKM_RSA_AES_KEY_WRAP mechanism, which both clouds use for material too long for OAEP. Shared so that
 * the AWS and Azure modules stay thin.
 */

export type OaepHash = "sha1" | "sha256";

const HASH_BYTES: Readonly<Record<OaepHash, number>> = { sha1: 20, sha256: 32 };
const EPHEMERAL_AES_BYTES = 32;

/** For the emulators' unwrap helpers: the private half of a KEK, already parsed. */
export function checkRsaPrivateKey(key: unknown, field: string): asserts key is KeyObject {
  if (!(key instanceof KeyObject) || key.type !== "private" || key.asymmetricKeyType !== "rsa") {
    throw new InvalidInputError("invalid_private_key", `${field} must be an RSA private KeyObject`, {
      field,
    });
  }
}

/** RFC 8017 section 7.1.1: OAEP carries at most k - 2 hLen - 2 bytes. */
export function oaepMaxPlaintextBytes(modulusLength: number, hash: OaepHash): number {
  return modulusLength - 2 * HASH_BYTES[hash] - 2;
}

/** RSA-OAEP with MGF1 over the same hash (node's oaepHash sets both), empty label. */
export function rsaOaepEncrypt(kek: KeyObject, data: Uint8Array, hash: OaepHash): Buffer {
  return publicEncrypt({ key: kek, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, data);
}

/** Inverse of rsaOaepEncrypt; a CryptoError on any failure, so callers can map it to the cloud's error. */
export function rsaOaepDecrypt(privateKey: KeyObject, data: Uint8Array, hash: OaepHash): Buffer {
  try {
    return privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
      data,
    );
  } catch (error) {
    throw new CryptoError("unwrap_failed", `RSA-OAEP (${hash}) decryption failed`, error);
  }
}

/**
 * CKM_RSA_AES_KEY_WRAP: a fresh AES-256 key, OAEP-encrypted under the KEK, followed by RFC 5649 KWP of
 * the material under that AES key. The AES key is zeroed before returning (or throwing).
 */
export function rsaAesKeyWrap(kek: KeyObject, material: Uint8Array, hash: OaepHash): Buffer {
  const aesKey = randomFillSync(Buffer.alloc(EPHEMERAL_AES_BYTES));
  try {
    return Buffer.concat([rsaOaepEncrypt(kek, aesKey, hash), aesKeyWrapPad(aesKey, material)]);
  } finally {
    zero(aesKey);
  }
}

/**
 * Inverse of rsaAesKeyWrap: split at the modulus length, OAEP-decrypt the AES key, KWP-unwrap the rest.
 * Every failure is a CryptoError("unwrap_failed") naming the stage, never the bytes. Any AES key size
 * RFC 5649 allows is accepted, so that the emulators refuse no less than the clouds' own unwrap would.
 */
export function rsaAesKeyUnwrap(privateKey: KeyObject, blob: Uint8Array, hash: OaepHash): Buffer {
  checkRsaPrivateKey(privateKey, "privateKey");
  const rsaLength = modulusBytes(privateKey);
  // KWP output is at least 16 bytes, so anything shorter cannot be RSA part || KWP part.
  if (blob.length < rsaLength + 16) {
    throw new CryptoError("unwrap_failed", `ciphertext too short for a ${rsaLength * 8}-bit KEK`);
  }
  const aesKey = rsaOaepDecrypt(privateKey, blob.subarray(0, rsaLength), hash);
  try {
    return aesKeyUnwrapPad(aesKey, blob.subarray(rsaLength));
  } catch (error) {
    throw new CryptoError("unwrap_failed", "AES key unwrap (RFC 5649) of the key material failed", error);
  } finally {
    zero(aesKey);
  }
}

import { type CipherGCMTypes, createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { badParameter } from "../errors.js";

/**
 * Managed HSM's AES algorithms that keyferry can use: AES-GCM (A128GCM..A256GCM) for encrypt/decrypt, with
 * the service choosing the 12-byte IV and returning a 16-byte tag, and AES Key Wrap (A128KW..A256KW,
 * RFC 3394, default IV) for wrap/unwrap. The number in the name must match the key's size.
 */

const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const RFC3394_IV = Buffer.from("A6A6A6A6A6A6A6A6", "hex");

export interface GcmResult {
  value: Buffer;
  iv: Buffer;
  tag: Buffer;
}

export function gcmEncrypt(
  key: Buffer,
  algorithm: string,
  plaintext: Buffer,
  aad: Buffer | undefined,
): GcmResult {
  checkSize(key, algorithm, "GCM");
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv(gcmCipher(key), key, iv, { authTagLength: GCM_TAG_BYTES });
  if (aad) cipher.setAAD(aad);
  const value = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { value, iv, tag: cipher.getAuthTag() };
}

export function gcmDecrypt(
  key: Buffer,
  algorithm: string,
  ciphertext: Buffer,
  iv: Buffer | undefined,
  tag: Buffer | undefined,
  aad: Buffer | undefined,
): Buffer {
  checkSize(key, algorithm, "GCM");
  if (!iv || iv.length !== GCM_IV_BYTES)
    throw badParameter(`Property iv must be ${GCM_IV_BYTES} bytes for ${algorithm}.`);
  if (!tag || tag.length !== GCM_TAG_BYTES)
    throw badParameter(`Property tag must be ${GCM_TAG_BYTES} bytes for ${algorithm}.`);
  try {
    const decipher = createDecipheriv(gcmCipher(key), key, iv, { authTagLength: GCM_TAG_BYTES });
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw badParameter(`The ciphertext could not be decrypted with ${algorithm}.`);
  }
}

export function keyWrap(key: Buffer, algorithm: string, keyToWrap: Buffer): Buffer {
  checkSize(key, algorithm, "KW");
  if (keyToWrap.length < 16 || keyToWrap.length % 8 !== 0) {
    throw badParameter(`The key to wrap with ${algorithm} must be a multiple of 8 bytes, at least 16.`);
  }
  const cipher = createCipheriv(`id-aes${key.length * 8}-wrap`, key, RFC3394_IV);
  return Buffer.concat([cipher.update(keyToWrap), cipher.final()]);
}

export function keyUnwrap(key: Buffer, algorithm: string, wrapped: Buffer): Buffer {
  checkSize(key, algorithm, "KW");
  try {
    const decipher = createDecipheriv(`id-aes${key.length * 8}-wrap`, key, RFC3394_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch {
    throw badParameter(`The wrapped key could not be unwrapped with ${algorithm}.`);
  }
}

function checkSize(key: Buffer, algorithm: string, mode: "GCM" | "KW"): void {
  const match = /^A(128|192|256)(GCM|KW)$/.exec(algorithm);
  if (!match || match[2] !== mode)
    throw badParameter(`The algorithm ${algorithm} is not supported by AES keys.`);
  if (Number(match[1]) !== key.length * 8) {
    throw badParameter(`The algorithm ${algorithm} requires a ${match[1]}-bit key.`);
  }
}

function gcmCipher(key: Buffer): CipherGCMTypes {
  return `aes-${key.length * 8}-gcm` as CipherGCMTypes;
}

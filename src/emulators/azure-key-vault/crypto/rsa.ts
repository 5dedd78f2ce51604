import {
  constants,
  createHash,
  type KeyObject,
  privateDecrypt,
  privateEncrypt,
  publicDecrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { badParameter } from "../errors.js";
import { type DigestName, digestBytes } from "./digests.js";

/**
 * RSA as Key Vault offers it: RSA-OAEP (SHA-1), RSA-OAEP-256 and RSA1_5 for encrypt/decrypt and
 * wrap/unwrap; RS256..512 (PKCS#1 v1.5) and PS256..512 (PSS, salt as long as the hash, RFC 7518) for
 * signatures over a digest the caller computed. Node signs only messages it hashes itself, so the two
 * signature paddings are applied here and the raw RSA operation is left to OpenSSL.
 */

export type RsaEncryptionAlgorithm = "RSA-OAEP" | "RSA-OAEP-256" | "RSA1_5";

/** DER DigestInfo prefixes of RFC 8017 section 9.2, note 1. */
const DIGEST_INFO: Readonly<Record<DigestName, string>> = {
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
};

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
  if (!pss) {
    const digestInfo = Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), digest]);
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo);
  }
  const bits = modulusBits(key);
  const encoded = pssEncode(digest, hash, bits - 1);
  return rawPrivate(key, leftPad(encoded, Math.ceil(bits / 8)));
}

export function rsaVerifyDigest(
  key: KeyObject,
  algorithm: string,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const { hash, pss } = signatureScheme(algorithm, digest);
  const bits = modulusBits(key);
  if (signature.length !== Math.ceil(bits / 8)) return false;
  try {
    if (!pss) {
      const expected = Buffer.concat([Buffer.from(DIGEST_INFO[hash], "hex"), digest]);
      const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
      return recovered.length === expected.length && timingSafeEqual(recovered, expected);
    }
    const em = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
    return pssVerify(digest, em, hash, bits - 1);
  } catch {
    return false;
  }
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

/** EMSA-PSS-ENCODE, RFC 8017 section 9.1.1, with MGF1 over the same hash and a salt of hash length. */
function pssEncode(mHash: Buffer, hash: DigestName, emBits: number): Buffer {
  const hLen = digestBytes(hash);
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash)
    .update(Buffer.concat([Buffer.alloc(8), mHash, salt]))
    .digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([0x01]), salt]);
  const maskedDb = xor(db, mgf1(h, emLen - hLen - 1, hash));
  maskedDb[0] = (maskedDb[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([maskedDb, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY, RFC 8017 section 9.1.2; `em` is the k-byte result of the public operation. */
function pssVerify(mHash: Buffer, em: Buffer, hash: DigestName, emBits: number): boolean {
  const hLen = digestBytes(hash);
  const emLen = Math.ceil(emBits / 8);
  const encoded = em.subarray(em.length - emLen);
  if (em.subarray(0, em.length - emLen).some((byte) => byte !== 0)) return false;
  if (emLen < 2 * hLen + 2 || encoded[emLen - 1] !== 0xbc) return false;
  const maskedDb = encoded.subarray(0, emLen - hLen - 1);
  const h = encoded.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 0xff >> (8 * emLen - emBits);
  if (((maskedDb[0] ?? 0) & ~topBits) !== 0) return false;
  const db = xor(maskedDb, mgf1(h, emLen - hLen - 1, hash));
  db[0] = (db[0] ?? 0) & topBits;
  const separator = emLen - 2 * hLen - 2;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 0x01) return false;
  const salt = db.subarray(separator + 1);
  const expected = createHash(hash)
    .update(Buffer.concat([Buffer.alloc(8), mHash, salt]))
    .digest();
  return timingSafeEqual(expected, h);
}

function mgf1(seed: Buffer, length: number, hash: DigestName): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * digestBytes(hash) < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
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

function leftPad(data: Buffer, length: number): Buffer {
  return data.length >= length ? data : Buffer.concat([Buffer.alloc(length - data.length), data]);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

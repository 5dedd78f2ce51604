import {
  constants,
  createHash,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

/**
 * RSA signatures over a digest the caller already computed (Sign/Verify with MessageType DIGEST). Node's
 * sign() always hashes its input, so the encodings of RFC 8017 are built here and the raw RSA operation is
 * left to OpenSSL (privateEncrypt / publicDecrypt):
 * - RSASSA-PKCS1-v1_5 (section 8.2): PKCS#1 type 1 padding of DigestInfo || digest;
 * - RSASSA-PSS (section 8.1): EMSA-PSS with MGF1 over the same hash and a salt as long as the hash, the
 *   parameters KMS documents for its RSASSA_PSS_* algorithms.
 */

export type DigestHash = "sha256" | "sha384" | "sha512";

// RFC 8017 section 9.2, note 1: the DER DigestInfo prefixes.
const DIGEST_INFO_PREFIX: Readonly<Record<DigestHash, Buffer>> = {
  sha256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  sha384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  sha512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

export function pkcs1SignDigest(privateKey: KeyObject, hash: DigestHash, digest: Buffer): Buffer {
  const digestInfo = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo);
}

export function pkcs1VerifyDigest(
  publicKey: KeyObject,
  hash: DigestHash,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const expected = Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    return recovered.length === expected.length && timingSafeEqual(recovered, expected);
  } catch {
    return false;
  }
}

export function pssSignDigest(privateKey: KeyObject, hash: DigestHash, digest: Buffer): Buffer {
  const { emBits, emLength, modulusLength } = sizes(privateKey);
  const hashLength = digest.length;
  const salt = randomBytes(hashLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLength - hashLength - 1);
  db[db.length - hashLength - 1] = 0x01;
  salt.copy(db, db.length - hashLength);
  xorInPlace(db, mgf1(hash, h, db.length));
  clearTopBits(db, emLength, emBits);
  const encoded = Buffer.concat([Buffer.alloc(modulusLength - emLength), db, h, Buffer.of(0xbc)]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encoded);
}

export function pssVerifyDigest(
  publicKey: KeyObject,
  hash: DigestHash,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const { emBits, emLength, modulusLength } = sizes(publicKey);
  const hashLength = digest.length;
  if (signature.length !== modulusLength) return false;
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  if (recovered.subarray(0, modulusLength - emLength).some((byte) => byte !== 0)) return false;
  const encoded = recovered.subarray(modulusLength - emLength);
  if (encoded[encoded.length - 1] !== 0xbc || emLength < 2 * hashLength + 2) return false;
  const db = Buffer.from(encoded.subarray(0, emLength - hashLength - 1));
  const h = encoded.subarray(emLength - hashLength - 1, emLength - 1);
  const unusedBits = 8 * emLength - emBits;
  if (((db[0] ?? 0) & (0xff << (8 - unusedBits)) & 0xff) !== 0) return false;
  xorInPlace(db, mgf1(hash, h, db.length));
  clearTopBits(db, emLength, emBits);
  const separator = db.length - hashLength - 1;
  if (db.subarray(0, separator).some((byte) => byte !== 0) || db[separator] !== 0x01) return false;
  const salt = db.subarray(db.length - hashLength);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

function sizes(key: KeyObject) {
  const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const emBits = modulusBits - 1;
  return { emBits, emLength: Math.ceil(emBits / 8), modulusLength: Math.ceil(modulusBits / 8) };
}

function mgf1(hash: DigestHash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0, produced = 0; produced < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function xorInPlace(target: Buffer, mask: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) ^ (mask[i] ?? 0);
}

/** The bits of the encoded message above emBits must be zero so that it stays below the modulus. */
function clearTopBits(db: Buffer, emLength: number, emBits: number): void {
  const unusedBits = 8 * emLength - emBits;
  db[0] = (db[0] ?? 0) & (0xff >> unusedBits);
}

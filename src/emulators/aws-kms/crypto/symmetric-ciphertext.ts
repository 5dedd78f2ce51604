import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * The emulator's ciphertext blob for symmetric keys. Real KMS blobs are opaque; what matters is that a blob
 * names its key and the key material that made it, so that Decrypt needs no KeyId, old ciphertexts keep
 * decrypting after a rotation, and stop once their material is deleted. Layout:
 *
 *   magic "KF" | version 1 | key id (16 bytes, the UUID) | material id (32 bytes) | IV (12) | ciphertext | tag (16)
 *
 * Version 2 is the same for multi-Region keys, whose id is `mrk-` and 16 bytes in hex: a blob made in one
 * region names the key id its related keys in other regions share, so they decrypt it.
 *
 * AES-256-GCM; the additional data is the header (everything before the ciphertext) followed by the
 * canonical encryption context, so neither can be changed without Decrypt failing.
 */

const MAGIC = Buffer.from("KF", "latin1");
const VERSION = 1;
const MULTI_REGION_VERSION = 2;
const MRK_PREFIX = "mrk-";
const KEY_ID_BYTES = 16;
const MATERIAL_ID_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + KEY_ID_BYTES + MATERIAL_ID_BYTES + IV_BYTES;

export interface ParsedCiphertext {
  keyId: string;
  materialId: string;
  header: Buffer;
  body: Buffer;
  tag: Buffer;
}

export function encryptSymmetric(
  keyId: string,
  materialId: string,
  material: Buffer,
  plaintext: Buffer,
  context: Record<string, string>,
): Buffer {
  const multiRegion = keyId.startsWith(MRK_PREFIX);
  const header = Buffer.concat([
    MAGIC,
    Buffer.of(multiRegion ? MULTI_REGION_VERSION : VERSION),
    Buffer.from(multiRegion ? keyId.slice(MRK_PREFIX.length) : keyId.replaceAll("-", ""), "hex"),
    Buffer.from(materialId, "hex"),
    randomBytes(IV_BYTES),
  ]);
  const cipher = createCipheriv("aes-256-gcm", material, header.subarray(HEADER_BYTES - IV_BYTES));
  cipher.setAAD(additionalData(header, context));
  return Buffer.concat([header, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Split a blob into its parts, or undefined when it is not one of ours. */
export function parseCiphertext(blob: Buffer): ParsedCiphertext | undefined {
  if (blob.length < HEADER_BYTES + TAG_BYTES) return undefined;
  const version = blob[MAGIC.length];
  if (!blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (version !== VERSION && version !== MULTI_REGION_VERSION) return undefined;
  const keyStart = MAGIC.length + 1;
  const materialStart = keyStart + KEY_ID_BYTES;
  const keyHex = blob.subarray(keyStart, materialStart).toString("hex");
  const materialId = blob.subarray(materialStart, materialStart + MATERIAL_ID_BYTES).toString("hex");
  const keyId =
    version === MULTI_REGION_VERSION
      ? `${MRK_PREFIX}${keyHex}`
      : [
          keyHex.slice(0, 8),
          keyHex.slice(8, 12),
          keyHex.slice(12, 16),
          keyHex.slice(16, 20),
          keyHex.slice(20),
        ].join("-");
  return {
    keyId,
    materialId,
    header: blob.subarray(0, HEADER_BYTES),
    body: blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES),
    tag: blob.subarray(blob.length - TAG_BYTES),
  };
}

/** Undefined when the tag does not verify: wrong material, changed blob or a different encryption context. */
export function decryptSymmetric(
  parsed: ParsedCiphertext,
  material: Buffer,
  context: Record<string, string>,
): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", material, parsed.header.subarray(HEADER_BYTES - IV_BYTES));
  decipher.setAAD(additionalData(parsed.header, context));
  decipher.setAuthTag(parsed.tag);
  try {
    return Buffer.concat([decipher.update(parsed.body), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** The context's pairs sorted by key, so that the order a client sends them in does not matter. */
function additionalData(header: Buffer, context: Record<string, string>): Buffer {
  const pairs = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat([header, Buffer.from(JSON.stringify(pairs), "utf8")]);
}

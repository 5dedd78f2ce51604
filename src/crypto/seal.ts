import { randomBytes } from "node:crypto";
import { gcm } from "@noble/ciphers/aes.js";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { ROOT_KEY_BYTES, type RootKey, rootKeyId } from "./root-key.js";
import { zero } from "./zero.js";

/**
 * Sealing at rest (SPEC section 7): plain AES-256-GCM under a root key, in a self-describing envelope
 *
 *   offset  0  2 bytes  magic "kf"
 *   offset  2  1 byte   format 0x01
 *   offset  3  8 bytes  root key id (the 16 hex characters of `rootKeyId`, raw)
 *   offset 11 12 bytes  nonce, random per seal
 *   offset 23           ciphertext || 16-byte tag
 *
 * with associated data lp("keyferry/seal/v1") || lp(header, bytes 0..22) || lp(purpose) || lp(name) ||
 * lp(version in decimal, "" when absent), where lp(x) = uint32 big-endian byte length of x || x and strings
 * are UTF-8. The prefixes keep ("a","bc") apart from ("ab","c"); binding the header means its bytes cannot
 * be swapped between envelopes; binding purpose, name and version means a sealed value cannot be moved
 * to another key, version or use by whoever can write the database.
 */
export interface SealContext {
  purpose: "key-material" | "kms-credentials";
  name: string;
  version?: number;
}

const MAGIC = [0x6b, 0x66] as const;
const FORMAT_V1 = 0x01;
const KEY_ID_OFFSET = 3;
const KEY_ID_BYTES = 8;
const NONCE_OFFSET = KEY_ID_OFFSET + KEY_ID_BYTES;
const NONCE_BYTES = 12;
const HEADER_BYTES = NONCE_OFFSET + NONCE_BYTES;
const TAG_BYTES = 16;
const AAD_DOMAIN = "keyferry/seal/v1";
const PURPOSES: ReadonlySet<string> = new Set(["key-material", "kms-credentials"]);

/** Encrypt `plaintext` under `root`, bound to `context`. The caller still owns (and zeroes) `plaintext`. */
export function seal(root: RootKey, plaintext: Uint8Array, context: SealContext): Buffer {
  assertRootKey(root);
  assertContext(context);
  if (!(plaintext instanceof Uint8Array) || plaintext.length === 0) {
    throw new InvalidInputError("seal_input_invalid", `nothing to seal for ${describe(context)}`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.set(MAGIC, 0);
  header[2] = FORMAT_V1;
  header.write(root.id, KEY_ID_OFFSET, "hex");
  randomBytes(NONCE_BYTES).copy(header, NONCE_OFFSET);
  const nonce = header.subarray(NONCE_OFFSET, HEADER_BYTES);
  const sealed = gcm(root.bytes, nonce, associatedData(header, context)).encrypt(plaintext);
  return Buffer.concat([header, sealed]);
}

/**
 * Decrypt an envelope made by `seal` with the same context, using whichever of `roots` sealed it. The
 * returned plaintext belongs to the caller, who zeroes it after use.
 */
export function unseal(
  roots: RootKey | readonly RootKey[],
  sealed: Uint8Array,
  context: SealContext,
): Buffer {
  assertContext(context);
  const id = sealedRootKeyId(sealed);
  const root = (Array.isArray(roots) ? roots : [roots]).find((candidate) => candidate.id === id);
  if (root === undefined) {
    throw new CryptoError(
      "root_key_unknown",
      `${describe(context)} is sealed under root key ${id}, which is not loaded`,
    );
  }
  assertRootKey(root);
  const header = sealed.subarray(0, HEADER_BYTES);
  const nonce = sealed.subarray(NONCE_OFFSET, HEADER_BYTES);
  try {
    const plaintext = gcm(root.bytes, nonce, associatedData(header, context)).decrypt(
      sealed.subarray(HEADER_BYTES),
    );
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  } catch (error) {
    throw new CryptoError(
      "unseal_failed",
      `cannot unseal ${describe(context)}: authentication failed (damaged data or a different name, version or purpose)`,
      error,
    );
  }
}

/** The id of the root key an envelope was sealed under, to find what needs re-sealing after a rotation. */
export function sealedRootKeyId(sealed: Uint8Array): string {
  if (!(sealed instanceof Uint8Array) || sealed.length < HEADER_BYTES + TAG_BYTES + 1) {
    throw new CryptoError("sealed_malformed", "sealed value is too short to be a keyferry envelope");
  }
  if (sealed[0] !== MAGIC[0] || sealed[1] !== MAGIC[1] || sealed[2] !== FORMAT_V1) {
    throw new CryptoError("sealed_malformed", "sealed value is not a keyferry format 1 envelope");
  }
  return Buffer.from(sealed.buffer, sealed.byteOffset + KEY_ID_OFFSET, KEY_ID_BYTES).toString("hex");
}

/** Move an envelope to root key `to` (root-key rotation); the plaintext exists only in between. */
export function reseal(
  from: RootKey | readonly RootKey[],
  to: RootKey,
  sealed: Uint8Array,
  context: SealContext,
): Buffer {
  assertRootKey(to);
  const plaintext = unseal(from, sealed, context);
  try {
    return seal(to, plaintext, context);
  } finally {
    zero(plaintext);
  }
}

function associatedData(header: Uint8Array, context: SealContext): Uint8Array {
  const fields = [AAD_DOMAIN, header, context.purpose, context.name, context.version?.toString(10) ?? ""].map(
    (field) => (typeof field === "string" ? Buffer.from(field, "utf8") : field),
  );
  const aad = Buffer.alloc(fields.reduce((total, field) => total + 4 + field.length, 0));
  let offset = 0;
  for (const field of fields) {
    offset = aad.writeUInt32BE(field.length, offset);
    aad.set(field, offset);
    offset += field.length;
  }
  return aad;
}

function assertContext(context: SealContext): void {
  if (!PURPOSES.has(context.purpose)) {
    throw new InvalidInputError(
      "seal_context_invalid",
      `unknown seal purpose ${JSON.stringify(context.purpose)}`,
    );
  }
  // A lone surrogate would encode to U+FFFD, so two different names could bind to the same bytes.
  if (typeof context.name !== "string" || context.name.length === 0 || /\p{Cs}/u.test(context.name)) {
    throw new InvalidInputError("seal_context_invalid", "seal name must be a non-empty, well-formed string");
  }
  const { version } = context;
  if (version !== undefined && !(Number.isSafeInteger(version) && version >= 1)) {
    throw new InvalidInputError(
      "seal_context_invalid",
      `seal version must be a positive integer, got ${version}`,
    );
  }
}

function assertRootKey(root: RootKey): void {
  // Recomputing the id (one SHA-256) guarantees the header names the key that really sealed the value.
  if (root.bytes.length !== ROOT_KEY_BYTES || rootKeyId(root.bytes) !== root.id) {
    throw new CryptoError("root_key_invalid", `root key ${root.id} is not 32 bytes or does not match its id`);
  }
}

function describe(context: SealContext): string {
  const version = context.version === undefined ? "" : ` version ${context.version}`;
  return `${context.purpose} of ${JSON.stringify(context.name)}${version}`;
}

import { createHash, createPublicKey, KeyObject } from "node:crypto";
import { InvalidInputError } from "../errors/invalid-input-error.js";

/**
 * The RSA key-encryption key (Azure's KEK, AWS's wrapping public key): parsing it once and refusing
 * anything that is not an RSA public key of a size the clouds issue.
 */

/** Both clouds issue RSA wrapping keys of 2048, 3072 or 4096 bits; anything else is a mistake or a trap. */
export const KEK_MIN_BITS = 2048;
export const KEK_MAX_BITS = 4096;

export type KekInput = string | Uint8Array | KeyObject;

// A private key PEM would also yield a public KeyObject; refusing it keeps private keys out of this path.
const PUBLIC_PEM_LABELS: readonly string[] = ["PUBLIC KEY", "RSA PUBLIC KEY"];
const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const DER_SEQUENCE = 0x30;

/**
 * Parse a KEK given as PEM (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY"), DER SPKI bytes, or an existing
 * KeyObject, once, and check it is an RSA public key of 2048..4096 bits. `field` names the input in errors.
 */
export function parseKekPublicKey(input: KekInput, field = "kek"): KeyObject {
  const key = input instanceof KeyObject ? input : decodePublicKey(input, field);
  if (key.type !== "public") throw invalidKek(field, `${field} must be a public key, got a ${key.type} key`);
  if (key.asymmetricKeyType !== "rsa") {
    throw invalidKek(field, `${field} must be an RSA public key, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < KEK_MIN_BITS || bits > KEK_MAX_BITS) {
    throw invalidKek(field, `${field} must be RSA ${KEK_MIN_BITS}..${KEK_MAX_BITS} bits, got ${bits}`);
  }
  return key;
}

/** SHA-256 of the KEK's DER SPKI, lowercase hex: the stable name ledger entries give a KEK. */
export function kekFingerprint(kek: KeyObject): string {
  return createHash("sha256")
    .update(kek.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/** Length in bytes of an RSA key's modulus, which is also the length of every OAEP ciphertext under it. */
export function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== "rsa" || bits === undefined) {
    throw new InvalidInputError("invalid_kek", "expected an RSA key", { field: "key" });
  }
  return Math.ceil(bits / 8);
}

function decodePublicKey(input: string | Uint8Array, field: string): KeyObject {
  if (typeof input === "string") return decodePem(input, field);
  if (!(input instanceof Uint8Array)) {
    throw invalidKek(field, `${field} must be PEM text, DER SPKI bytes or a KeyObject`);
  }
  // DER always opens with a SEQUENCE tag; anything else can only be PEM text.
  if (input[0] !== DER_SEQUENCE) return decodePem(Buffer.from(input).toString("latin1"), field);
  return attempt(() => createPublicKey({ key: Buffer.from(input), format: "der", type: "spki" }), field);
}

function decodePem(pem: string, field: string): KeyObject {
  const labels = [...pem.matchAll(PEM_BEGIN)].map((match) => match[1] ?? "");
  if (labels.length !== 1 || !PUBLIC_PEM_LABELS.includes(labels[0] ?? "")) {
    throw invalidKek(field, `${field} must be DER SPKI or one "PUBLIC KEY" / "RSA PUBLIC KEY" PEM block`);
  }
  return attempt(() => createPublicKey({ key: pem, format: "pem" }), field);
}

function attempt(parse: () => KeyObject, field: string): KeyObject {
  try {
    return parse();
  } catch {
    // OpenSSL's reason ("too long", "unsupported") would not help the caller more than this does.
    throw invalidKek(field, `${field} could not be parsed as an RSA public key`);
  }
}

function invalidKek(field: string, message: string): InvalidInputError {
  return new InvalidInputError("invalid_kek", message, { field });
}

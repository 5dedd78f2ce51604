import { createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
import { generateKeyMaterial, materialMatchesType } from "../../../crypto/generate.js";
import type { KeyType } from "../../../crypto/key-types.js";
import { zero } from "../../../crypto/zero.js";
import { badParameter } from "../errors.js";
import type { CurveName, KeySecret } from "../state/model.js";
import { CURVES, type KeyFamily, OCT_SIZES, RSA_SIZES } from "./key-types.js";

/** Key material in and out of the emulator: generation, PKCS#8 parsing, and the form kept in the state file. */

const NODE_CURVES: Readonly<Record<string, CurveName>> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

const KEYFERRY_CURVE_TYPES: Readonly<Record<CurveName, KeyType>> = {
  "P-256": "ecdsa-p256",
  "P-384": "ecdsa-p384",
  "P-521": "ecdsa-p521",
};

/** Generate a new secret of `family` (size in bits for RSA and AES, curve for EC), off the event loop. */
export async function generateSecret(
  family: KeyFamily,
  size: number | undefined,
  curve: CurveName | undefined,
): Promise<KeySecret> {
  if (family === "oct") {
    const bits = size ?? 256;
    if (!OCT_SIZES.includes(bits))
      throw badParameter(`Property key_size must be one of ${OCT_SIZES.join(", ")}.`);
    return { family: "oct", bytes: randomBytes(bits / 8) };
  }
  const type = keyferryType(family, size, curve);
  const { material } = await generateKeyMaterial(type);
  try {
    return secretFromPkcs8(material);
  } finally {
    zero(material);
  }
}

type AsymmetricSecret = Extract<KeySecret, { family: "rsa" | "ec" }>;

/**
 * Parse PKCS#8 DER (exactly one DER object) into a secret, checking that it is an RSA key of a size Key Vault
 * offers or an EC key on one of its curves; BadParameter otherwise.
 */
export function secretFromPkcs8(der: Uint8Array): AsymmetricSecret {
  let key: KeyObject;
  try {
    // A view, not a copy: no second buffer holding the secret that nobody zeroes.
    const view = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    key = createPrivateKey({ key: view, format: "der", type: "pkcs8" });
  } catch {
    throw badParameter("The key material is not a PKCS#8 private key.");
  }
  const secret = secretFromKeyObject(key);
  // OpenSSL ignores trailing bytes; the strict check of src/crypto refuses them, as an HSM would.
  const type =
    secret.family === "rsa"
      ? keyferryType("rsa", secret.bits, undefined)
      : KEYFERRY_CURVE_TYPES[secret.curve];
  if (!materialMatchesType(type, der)) throw badParameter("The key material is not a single PKCS#8 object.");
  return secret;
}

export function secretFromKeyObject(key: KeyObject): AsymmetricSecret {
  const details = key.asymmetricKeyDetails;
  if (key.type !== "private") throw badParameter("The key material does not contain a private key.");
  if (key.asymmetricKeyType === "rsa") {
    const bits = details?.modulusLength ?? 0;
    if (!RSA_SIZES.includes(bits)) {
      throw badParameter(`RSA keys must be ${RSA_SIZES.join(", ")} bits; this one has ${bits}.`);
    }
    return { family: "rsa", privateKey: key, bits };
  }
  if (key.asymmetricKeyType === "ec") {
    const curve = NODE_CURVES[details?.namedCurve ?? ""];
    if (!curve) throw badParameter(`EC keys must be on ${CURVES.join(", ")}.`);
    return { family: "ec", privateKey: key, curve };
  }
  throw badParameter(`Keys of type ${key.asymmetricKeyType ?? "unknown"} are not supported.`);
}

export function octSecret(bytes: Buffer): KeySecret {
  if (!OCT_SIZES.includes(bytes.length * 8)) {
    throw badParameter(`AES keys must be ${OCT_SIZES.map((bits) => bits / 8).join(", ")} bytes.`);
  }
  return { family: "oct", bytes };
}

/** The state file's form: PKCS#8 DER or raw AES bytes, base64. */
export function secretToStored(secret: KeySecret): { family: KeyFamily; material: string } {
  if (secret.family === "oct") return { family: "oct", material: secret.bytes.toString("base64") };
  const der = secret.privateKey.export({ type: "pkcs8", format: "der" });
  try {
    return { family: secret.family, material: der.toString("base64") };
  } finally {
    zero(der);
  }
}

export function secretFromStored(family: KeyFamily, material: string): KeySecret {
  const bytes = Buffer.from(material, "base64");
  if (family === "oct") return octSecret(bytes);
  try {
    return secretFromPkcs8(bytes);
  } finally {
    zero(bytes);
  }
}

function keyferryType(family: "rsa" | "ec", size: number | undefined, curve: CurveName | undefined): KeyType {
  if (family === "rsa") {
    const bits = size ?? 2048;
    if (!RSA_SIZES.includes(bits))
      throw badParameter(`Property key_size must be one of ${RSA_SIZES.join(", ")}.`);
    return `rsa-${bits}` as KeyType;
  }
  return KEYFERRY_CURVE_TYPES[curve ?? "P-256"];
}

/** The key types of SPEC section 2 and the facts about each that generation and wrapping need. */
export const KEY_TYPES = [
  "aes256-gcm96",
  "rsa-2048",
  "rsa-3072",
  "rsa-4096",
  "ecdsa-p256",
  "ecdsa-p384",
  "ecdsa-p521",
] as const;

export type KeyType = (typeof KEY_TYPES)[number];

export type KeyFamily = "aes" | "rsa" | "ec";

interface KeyTypeInfo {
  family: KeyFamily;
  /** RSA modulus length in bits, AES key length in bits, or the EC field size. */
  bits: number;
  /** Node's / OpenSSL's curve name, for EC keys. */
  namedCurve?: "prime256v1" | "secp384r1" | "secp521r1";
  /** JOSE curve name, for EC keys (Azure's `crv`). */
  joseCurve?: "P-256" | "P-384" | "P-521";
}

export const KEY_TYPE_INFO: Readonly<Record<KeyType, KeyTypeInfo>> = {
  "aes256-gcm96": { family: "aes", bits: 256 },
  "rsa-2048": { family: "rsa", bits: 2048 },
  "rsa-3072": { family: "rsa", bits: 3072 },
  "rsa-4096": { family: "rsa", bits: 4096 },
  "ecdsa-p256": { family: "ec", bits: 256, namedCurve: "prime256v1", joseCurve: "P-256" },
  "ecdsa-p384": { family: "ec", bits: 384, namedCurve: "secp384r1", joseCurve: "P-384" },
  "ecdsa-p521": { family: "ec", bits: 521, namedCurve: "secp521r1", joseCurve: "P-521" },
};

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

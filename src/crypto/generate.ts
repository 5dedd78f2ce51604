import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { KEY_TYPE_INFO, type KeyType } from "./key-types.js";

// The callback forms run on libuv's threadpool: an RSA-4096 generation takes seconds of CPU and must
// neither block the event loop nor keep the second core idle.
const generateKeyPairAsync = promisify(generateKeyPair);
const randomBytesAsync = promisify(randomBytes);

const AES_KEY_BYTES = 32;
const RSA_PUBLIC_EXPONENT = 65537;

export interface KeyMaterial {
  /** PKCS#8 DER for RSA and EC keys, 32 raw bytes for AES. The caller zeroes it after sealing. */
  material: Buffer;
  /** DER SubjectPublicKeyInfo for RSA and EC keys. */
  publicKey: Buffer | undefined;
}

/** Generate fresh key material of `type` in the formats of SPEC section 2. */
export async function generateKeyMaterial(type: KeyType): Promise<KeyMaterial> {
  const info = KEY_TYPE_INFO[type];
  if (info.family === "aes") {
    return { material: await randomBytesAsync(AES_KEY_BYTES), publicKey: undefined };
  }
  // Asking for DER directly means Node hands back exactly two Buffers and no exported copies to clean up.
  const publicKeyEncoding = { type: "spki", format: "der" } as const;
  const privateKeyEncoding = { type: "pkcs8", format: "der" } as const;
  const pair =
    info.family === "rsa"
      ? await generateKeyPairAsync("rsa", {
          modulusLength: info.bits,
          publicExponent: RSA_PUBLIC_EXPONENT,
          publicKeyEncoding,
          privateKeyEncoding,
        })
      : await generateKeyPairAsync("ec", {
          namedCurve: info.namedCurve ?? "",
          publicKeyEncoding,
          privateKeyEncoding,
        });
  return { material: pair.privateKey, publicKey: pair.publicKey };
}

/** DER SubjectPublicKeyInfo of an RSA or EC key, after checking the material really is a `type` key. */
export function publicKeyOf(type: KeyType, material: Uint8Array): Buffer {
  if (KEY_TYPE_INFO[type].family === "aes") {
    throw new InvalidInputError("key_type_symmetric", `${type} keys have no public key`, { type });
  }
  return createPublicKey(privateKeyOf(type, material)).export({ type: "spki", format: "der" });
}

/** Whether `material` has the form and size SPEC section 2 prescribes for `type`. */
export function materialMatchesType(type: KeyType, material: Uint8Array): boolean {
  if (KEY_TYPE_INFO[type].family === "aes") return material.length === AES_KEY_BYTES;
  try {
    privateKeyOf(type, material);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parse PKCS#8 DER and check algorithm, modulus length or curve. Works on the caller's bytes in place:
 * the only copy of the secret is the one inside OpenSSL's key object, which JavaScript cannot reach.
 */
function privateKeyOf(type: KeyType, material: Uint8Array): KeyObject {
  const info = KEY_TYPE_INFO[type];
  const mismatch = (why: string, cause?: unknown) =>
    new CryptoError(
      "key_material_mismatch",
      `key material is not a valid ${type} private key: ${why}`,
      cause,
    );
  // OpenSSL ignores bytes after the outer SEQUENCE; stored material must be exactly one DER object.
  if (derObjectLength(material) !== material.length) throw mismatch("not a single DER object");
  let key: KeyObject;
  try {
    // A view, not a copy: no second secret buffer to clean up.
    const view = Buffer.from(material.buffer, material.byteOffset, material.byteLength);
    key = createPrivateKey({ key: view, format: "der", type: "pkcs8" });
  } catch (error) {
    throw mismatch("not PKCS#8 DER", error);
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== info.family) throw mismatch(`its algorithm is ${key.asymmetricKeyType}`);
  if (info.family === "rsa" && details?.modulusLength !== info.bits) {
    throw mismatch(`its modulus has ${details?.modulusLength} bits`);
  }
  if (info.family === "ec" && details?.namedCurve !== info.namedCurve) {
    throw mismatch(`its curve is ${details?.namedCurve}`);
  }
  return key;
}

/** Total length (header and content) of the DER object at the start of `der`, or -1 if malformed. */
function derObjectLength(der: Uint8Array): number {
  const SEQUENCE = 0x30;
  const first = der[1];
  if (der[0] !== SEQUENCE || first === undefined) return -1;
  if (first < 0x80) return 2 + first;
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 4 || der.length < 2 + lengthBytes) return -1;
  let length = 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + (der[2 + i] ?? 0);
  return 2 + lengthBytes + length;
}

import type { KeyObject } from "node:crypto";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { type KekInput, modulusBytes, parseKekPublicKey } from "./kek.js";
import { isKeyType, KEY_TYPE_INFO, type KeyFamily, type KeyType } from "./key-types.js";
import {
  checkRsaPrivateKey,
  type OaepHash,
  oaepMaxPlaintextBytes,
  rsaAesKeyUnwrap,
  rsaAesKeyWrap,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
} from "./rsa-wrap.js";

/**
 * AWS KMS import wrapping (the EncryptedKeyMaterial of ImportKeyMaterial). RSAES_PKCS1_V1_5 is absent on
 * purpose: KMS stopped accepting it on 2023-10-10. SHA-256 variants come first: they are the preference.
 */
export const AWS_WRAPPING_ALGORITHMS = [
  "RSAES_OAEP_SHA_256",
  "RSAES_OAEP_SHA_1",
  "RSA_AES_KEY_WRAP_SHA_256",
  "RSA_AES_KEY_WRAP_SHA_1",
] as const;

export type AwsWrappingAlgorithm = (typeof AWS_WRAPPING_ALGORITHMS)[number];

interface AwsWrappingRule {
  /** `oaep`: OAEP of the raw material; `rsa-aes`: OAEP(AES-256 key) || KWP(material). */
  scheme: "oaep" | "rsa-aes";
  hash: OaepHash;
  /** The key families whose material AWS accepts under this algorithm. */
  families: readonly KeyFamily[];
}

/**
 * Which material each algorithm may carry, as AWS documents it. The per-algorithm sentences quoted are
 * GetParametersForImport's WrappingAlgorithm reference (the developer guide's "Select a wrapping
 * algorithm" points to the same rules):
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html
 * https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-get-public-key-and-token.html
 * - RSA_AES_KEY_WRAP_SHA_1|256: "Supported for wrapping RSA and ECC key material."
 * - RSAES_OAEP_SHA_1|256: "Supported for all types of key material, except RSA key material (private key)."
 * - "The following combination is NOT supported: ECC_NIST_P521 key material, the RSA_2048 public wrapping
 *   key spec, and an RSAES_OAEP_SHA_* wrapping algorithm." (developer guide, "Step 3: Encrypt the key
 *   material", importing-keys-encrypt-key-material.html); enforced in wrapForAws.
 * HMAC and SM2 material exist in KMS but not among keyferry's key types.
 */
export const AWS_WRAPPING_RULES: Readonly<Record<AwsWrappingAlgorithm, AwsWrappingRule>> = {
  RSAES_OAEP_SHA_1: { scheme: "oaep", hash: "sha1", families: ["aes", "ec"] },
  RSAES_OAEP_SHA_256: { scheme: "oaep", hash: "sha256", families: ["aes", "ec"] },
  RSA_AES_KEY_WRAP_SHA_1: { scheme: "rsa-aes", hash: "sha1", families: ["rsa", "ec"] },
  RSA_AES_KEY_WRAP_SHA_256: { scheme: "rsa-aes", hash: "sha256", families: ["rsa", "ec"] },
};

const AES_MATERIAL_BYTES = 32;
const DER_SEQUENCE = 0x30;

export interface WrapForAwsInput {
  /** AES: 32 raw bytes; RSA and EC: the private key as PKCS#8 DER. Not zeroed here: the caller owns it. */
  material: Uint8Array;
  keyType: KeyType;
  /** GetParametersForImport's PublicKey (DER SPKI), PEM, or an already parsed KeyObject. */
  wrappingKey: KekInput;
  algorithm: AwsWrappingAlgorithm;
}

export interface UnwrapAwsInput {
  /** The private half of the wrapping key pair (the emulator's). */
  privateKey: KeyObject;
  algorithm: AwsWrappingAlgorithm;
  encryptedKeyMaterial: Uint8Array;
}

export function isAwsWrappingAlgorithm(value: unknown): value is AwsWrappingAlgorithm {
  return typeof value === "string" && (AWS_WRAPPING_ALGORITHMS as readonly string[]).includes(value);
}

/** Wrap key material for ImportKeyMaterial, refusing every combination AWS would refuse. */
export function wrapForAws(input: WrapForAwsInput): Buffer {
  const rule = ruleFor(input.algorithm);
  const keyType = checkKeyType(input.keyType);
  checkMaterial(keyType, input.material);
  const family = KEY_TYPE_INFO[keyType].family;
  if (!rule.families.includes(family)) {
    throw new InvalidInputError(
      "wrapping_algorithm_not_allowed",
      `AWS KMS does not accept ${keyType} material wrapped with ${input.algorithm}; ` +
        `use ${algorithmsForFamily(family).join(" or ")}`,
      { field: "algorithm", keyType, algorithm: input.algorithm },
    );
  }
  const wrappingKey = parseKekPublicKey(input.wrappingKey, "wrappingKey");
  if (rule.scheme === "rsa-aes") return rsaAesKeyWrap(wrappingKey, input.material, rule.hash);

  const rsaBytes = modulusBytes(wrappingKey);
  const limit = oaepMaxPlaintextBytes(rsaBytes, rule.hash);
  if (input.material.length > limit) {
    throw new InvalidInputError(
      "key_material_too_large",
      `${keyType} material is ${input.material.length} bytes; ${input.algorithm} under a ${rsaBytes * 8}-bit ` +
        `wrapping key carries at most ${limit}: use a larger wrapping key or an RSA_AES_KEY_WRAP_* algorithm`,
      { field: "material", keyType, algorithm: input.algorithm, limit },
    );
  }
  // AWS refuses this combination outright, also for a PKCS#8 encoding short enough to fit.
  if (keyType === "ecdsa-p521" && rsaBytes * 8 === 2048) {
    throw new InvalidInputError(
      "wrapping_algorithm_not_allowed",
      `AWS KMS does not accept ECC_NIST_P521 material wrapped with ${input.algorithm} under an RSA_2048 ` +
        "wrapping key: use RSA_3072/RSA_4096 or an RSA_AES_KEY_WRAP_* algorithm",
      { field: "algorithm", keyType, algorithm: input.algorithm },
    );
  }
  return rsaOaepEncrypt(wrappingKey, input.material, rule.hash);
}

/**
 * What KMS does on ImportKeyMaterial, for the emulator: recover the material or throw
 * CryptoError("unwrap_failed") (mapped to InvalidCiphertextException). The caller zeroes the result.
 */
export function unwrapAws(input: UnwrapAwsInput): Buffer {
  const rule = ruleFor(input.algorithm);
  checkRsaPrivateKey(input.privateKey, "privateKey");
  if (!(input.encryptedKeyMaterial instanceof Uint8Array) || input.encryptedKeyMaterial.length === 0) {
    throw new CryptoError("unwrap_failed", "encryptedKeyMaterial must be non-empty bytes");
  }
  if (rule.scheme === "rsa-aes") {
    return rsaAesKeyUnwrap(input.privateKey, input.encryptedKeyMaterial, rule.hash);
  }
  if (input.encryptedKeyMaterial.length !== modulusBytes(input.privateKey)) {
    throw new CryptoError("unwrap_failed", `${input.algorithm} ciphertext length does not match the key`);
  }
  return rsaOaepDecrypt(input.privateKey, input.encryptedKeyMaterial, rule.hash);
}

/**
 * The algorithms AWS accepts for a key type's material, SHA-256 first. The wrapping key's size can rule
 * out more (P-521 under RSA_2048 with RSAES_OAEP_*); wrapForAws checks that.
 */
export function awsAlgorithmsFor(keyType: KeyType): AwsWrappingAlgorithm[] {
  return algorithmsForFamily(KEY_TYPE_INFO[keyType].family);
}

function ruleFor(algorithm: unknown): AwsWrappingRule {
  if (!isAwsWrappingAlgorithm(algorithm)) {
    throw new InvalidInputError(
      "unknown_wrapping_algorithm",
      `algorithm must be one of ${AWS_WRAPPING_ALGORITHMS.join(", ")}`,
      { field: "algorithm" },
    );
  }
  return AWS_WRAPPING_RULES[algorithm];
}

function checkKeyType(keyType: unknown): KeyType {
  if (typeof keyType !== "string" || !isKeyType(keyType)) {
    throw new InvalidInputError("invalid_key_type", "keyType is not a keyferry key type", {
      field: "keyType",
    });
  }
  return keyType;
}

function checkMaterial(keyType: KeyType, material: unknown): asserts material is Uint8Array {
  const family = KEY_TYPE_INFO[keyType].family;
  const ok =
    material instanceof Uint8Array &&
    (family === "aes" ? material.length === AES_MATERIAL_BYTES : material[0] === DER_SEQUENCE);
  if (!ok) {
    const expected = family === "aes" ? `${AES_MATERIAL_BYTES} raw bytes` : "a PKCS#8 DER private key";
    throw new InvalidInputError("invalid_key_material", `material for ${keyType} must be ${expected}`, {
      field: "material",
    });
  }
}

function algorithmsForFamily(family: KeyFamily): AwsWrappingAlgorithm[] {
  return AWS_WRAPPING_ALGORITHMS.filter((algorithm) =>
    AWS_WRAPPING_RULES[algorithm].families.includes(family),
  );
}

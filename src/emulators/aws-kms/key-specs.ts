import type { KeyFamily, KeyType } from "../../crypto/key-types.js";

/**
 * The key specs the emulator implements (SPEC section 2) and what the real service allows with each:
 * key usages (CreateKeyRequest.KeyUsage reference), and the encryption, signing and key agreement
 * algorithms DescribeKey and GetPublicKey list ("Key spec reference", KMS developer guide).
 */
export const SUPPORTED_KEY_SPECS = [
  "SYMMETRIC_DEFAULT",
  "RSA_2048",
  "RSA_3072",
  "RSA_4096",
  "ECC_NIST_P256",
  "ECC_NIST_P384",
  "ECC_NIST_P521",
] as const;

export type SupportedKeySpec = (typeof SUPPORTED_KEY_SPECS)[number];

/** Every value of the service's KeySpec enum, so that a real but unimplemented spec is refused clearly. */
export const ALL_KEY_SPECS = [
  ...SUPPORTED_KEY_SPECS,
  "ECC_SECG_P256K1",
  "ECC_NIST_EDWARDS25519",
  "HMAC_224",
  "HMAC_256",
  "HMAC_384",
  "HMAC_512",
  "ML_DSA_44",
  "ML_DSA_65",
  "ML_DSA_87",
  "ML_KEM_512",
  "ML_KEM_768",
  "ML_KEM_1024",
  "SM2",
] as const;

export const KEY_USAGES = [
  "ENCRYPT_DECRYPT",
  "SIGN_VERIFY",
  "GENERATE_VERIFY_MAC",
  "KEY_AGREEMENT",
  "ENCAPSULATE_DECAPSULATE",
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const ENCRYPTION_ALGORITHMS = [
  "SYMMETRIC_DEFAULT",
  "RSAES_OAEP_SHA_1",
  "RSAES_OAEP_SHA_256",
  "SM2PKE",
] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];

export const SIGNING_ALGORITHMS = [
  "RSASSA_PSS_SHA_256",
  "RSASSA_PSS_SHA_384",
  "RSASSA_PSS_SHA_512",
  "RSASSA_PKCS1_V1_5_SHA_256",
  "RSASSA_PKCS1_V1_5_SHA_384",
  "RSASSA_PKCS1_V1_5_SHA_512",
  "ECDSA_SHA_256",
  "ECDSA_SHA_384",
  "ECDSA_SHA_512",
  "ED25519_SHA_512",
  "ED25519_PH_SHA_512",
  "ML_DSA_SHAKE_256",
  "SM2DSA",
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

interface KeySpecInfo {
  keyType: KeyType;
  family: KeyFamily;
  usages: readonly KeyUsage[];
  encryptionAlgorithms: readonly EncryptionAlgorithm[];
  signingAlgorithms: readonly SigningAlgorithm[];
}

const RSA_SIGNING: readonly SigningAlgorithm[] = [
  "RSASSA_PSS_SHA_256",
  "RSASSA_PSS_SHA_384",
  "RSASSA_PSS_SHA_512",
  "RSASSA_PKCS1_V1_5_SHA_256",
  "RSASSA_PKCS1_V1_5_SHA_384",
  "RSASSA_PKCS1_V1_5_SHA_512",
];
const RSA_ENCRYPTION: readonly EncryptionAlgorithm[] = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];
const rsa = (keyType: KeyType): KeySpecInfo => ({
  keyType,
  family: "rsa",
  usages: ["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
  encryptionAlgorithms: RSA_ENCRYPTION,
  signingAlgorithms: RSA_SIGNING,
});
// Each NIST curve signs with exactly one hash, the one matching its size.
const ecc = (keyType: KeyType, signing: SigningAlgorithm): KeySpecInfo => ({
  keyType,
  family: "ec",
  usages: ["SIGN_VERIFY", "KEY_AGREEMENT"],
  encryptionAlgorithms: [],
  signingAlgorithms: [signing],
});

export const KEY_SPEC_INFO: Readonly<Record<SupportedKeySpec, KeySpecInfo>> = {
  SYMMETRIC_DEFAULT: {
    keyType: "aes256-gcm96",
    family: "aes",
    usages: ["ENCRYPT_DECRYPT"],
    encryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
    signingAlgorithms: [],
  },
  RSA_2048: rsa("rsa-2048"),
  RSA_3072: rsa("rsa-3072"),
  RSA_4096: rsa("rsa-4096"),
  ECC_NIST_P256: ecc("ecdsa-p256", "ECDSA_SHA_256"),
  ECC_NIST_P384: ecc("ecdsa-p384", "ECDSA_SHA_384"),
  ECC_NIST_P521: ecc("ecdsa-p521", "ECDSA_SHA_512"),
};

export function isSupportedKeySpec(value: string): value is SupportedKeySpec {
  return (SUPPORTED_KEY_SPECS as readonly string[]).includes(value);
}

/** The algorithm lists DescribeKey and GetPublicKey show for a key of this spec and usage. */
export function algorithmsFor(
  spec: SupportedKeySpec,
  usage: KeyUsage,
): {
  EncryptionAlgorithms?: EncryptionAlgorithm[];
  SigningAlgorithms?: SigningAlgorithm[];
  KeyAgreementAlgorithms?: string[];
} {
  const info = KEY_SPEC_INFO[spec];
  if (usage === "ENCRYPT_DECRYPT") return { EncryptionAlgorithms: [...info.encryptionAlgorithms] };
  if (usage === "SIGN_VERIFY") return { SigningAlgorithms: [...info.signingAlgorithms] };
  if (usage === "KEY_AGREEMENT") return { KeyAgreementAlgorithms: ["ECDH"] };
  return {};
}

import type { QuotaRule } from "../common/quota.js";
import { KEY_SPEC_INFO } from "./key-specs.js";
import type { KmsKey } from "./state.js";

/**
 * AWS KMS request quotas per account and Region, in requests per second, as the developer guide publishes
 * them ("Request quotas", https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html)
 * and /work/shared/CLOUD-NOTES.md collects them. Each operation has its own bucket; Encrypt, Decrypt, Sign
 * and Verify share one bucket per key type (symmetric, RSA, ECC), each calculated separately.
 *
 * The symmetric cryptographic quota varies by Region (5,500 to 100,000 shared); the emulator applies the
 * lowest published value everywhere, so pacing that passes here passes in every Region.
 */

export const CRYPTO_BUCKETS = {
  aes: "CryptographicOperationsSymmetric",
  rsa: "CryptographicOperationsRsa",
  ec: "CryptographicOperationsEcc",
} as const;

const perSecond = (requests: number): QuotaRule => ({ requests, perSeconds: 1 });

export const AWS_KMS_QUOTAS: Readonly<Record<string, QuotaRule>> = {
  [CRYPTO_BUCKETS.aes]: perSecond(5500),
  [CRYPTO_BUCKETS.rsa]: perSecond(1000),
  [CRYPTO_BUCKETS.ec]: perSecond(1000),
  CancelKeyDeletion: perSecond(5),
  CreateAlias: perSecond(5),
  CreateKey: perSecond(5),
  DeleteAlias: perSecond(15),
  DeleteImportedKeyMaterial: perSecond(15),
  DescribeKey: perSecond(2000),
  DisableKey: perSecond(5),
  EnableKey: perSecond(5),
  GetParametersForImport: perSecond(1),
  GetPublicKey: perSecond(2000),
  ImportKeyMaterial: perSecond(15),
  ListAliases: perSecond(500),
  ListKeyRotations: perSecond(100),
  ListKeys: perSecond(500),
  ListResourceTags: perSecond(2000),
  // Counted in the primary's region; each also counts as two CreateKey requests (replicate-ops.ts).
  ReplicateKey: perSecond(5),
  RotateKeyOnDemand: perSecond(5),
  ScheduleKeyDeletion: perSecond(15),
  TagResource: perSecond(10),
  UntagResource: perSecond(5),
  UpdateAlias: perSecond(5),
};

/** The shared cryptographic-operations bucket a request on `key` counts against. */
export function cryptoBucket(key: KmsKey): string {
  return CRYPTO_BUCKETS[KEY_SPEC_INFO[key.keySpec].family];
}

import type { Provider } from "../db/schema/index.js";

/**
 * The clouds' published request quotas (see /work/shared/CLOUD-NOTES.md), per destination: AWS per account
 * and region per second, Azure per vault per 10 seconds. Each cloud operation name a provider passes to
 * `beforeCall` maps onto a bucket; operations sharing a quota share a bucket.
 */
export interface Quota {
  bucket: string;
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

const perSecond = (bucket: string, limit: number): Quota => ({ bucket, limit, windowMs: 1000 });
const aws = perSecond;
const azure = (bucket: string, per10s: number): Quota => ({ bucket, limit: per10s, windowMs: 10_000 });

const AWS_QUOTAS: Record<string, Quota> = {
  CreateKey: aws("CreateKey", 5),
  GetParametersForImport: aws("GetParametersForImport", 1),
  ImportKeyMaterial: aws("ImportKeyMaterial", 15),
  DeleteImportedKeyMaterial: aws("DeleteImportedKeyMaterial", 15),
  RotateKeyOnDemand: aws("RotateKeyOnDemand", 5),
  ReplicateKey: aws("ReplicateKey", 5),
  ScheduleKeyDeletion: aws("ScheduleKeyDeletion", 15),
  CancelKeyDeletion: aws("CancelKeyDeletion", 5),
  DescribeKey: aws("DescribeKey", 2000),
  GetPublicKey: aws("GetPublicKey", 2000),
  ListKeyRotations: aws("ListKeyRotations", 100),
  ListKeys: aws("ListKeys", 100),
  ListAliases: aws("ListAliases", 100),
  ListResourceTags: aws("ListResourceTags", 100),
  TagResource: aws("TagResource", 10),
  UntagResource: aws("UntagResource", 10),
  CreateAlias: aws("CreateAlias", 5),
  UpdateAlias: aws("UpdateAlias", 5),
  DeleteAlias: aws("DeleteAlias", 5),
  EnableKey: aws("EnableKey", 5),
  DisableKey: aws("DisableKey", 5),
  // Cryptographic operations share one quota; 5,500/s is the smallest regional value.
  Encrypt: aws("cryptographic", 5500),
  Decrypt: aws("cryptographic", 5500),
  Sign: aws("cryptographic", 5500),
  Verify: aws("cryptographic", 5500),
};

// Azure counts HSM key creation (import included) on its own; every other HSM transaction shares one
// quota whose size depends on the key type: RSA-4096's 250 is the safe value for all of them.
const AZURE_QUOTAS: Record<string, Quota> = {
  createKey: azure("hsm-create", 10),
  importKey: azure("hsm-create", 10),
};
const AZURE_OTHER = azure("hsm-other", 250);
// A Managed HSM publishes per-second limits of its own: 1 create (import included) per second, and for
// everything else the smallest of its per-operation figures (ECDSA P-521 verify, 28/s).
const MANAGED_HSM_QUOTAS: Record<string, Quota> = {
  createKey: perSecond("mhsm-create", 1),
  importKey: perSecond("mhsm-create", 1),
};
const MANAGED_HSM_OTHER = perSecond("mhsm-other", 28);
// Operations a provider calls that are not in the table: the strictest per-second quota of the cloud.
const AWS_OTHER = aws("other", 5);

export function quotaFor(provider: Provider, operation: string, managedHsm = false): Quota {
  if (provider === "awskms") return AWS_QUOTAS[operation] ?? AWS_OTHER;
  if (managedHsm) return MANAGED_HSM_QUOTAS[operation] ?? MANAGED_HSM_OTHER;
  return AZURE_QUOTAS[operation] ?? AZURE_OTHER;
}

/** A token bucket: `capacity` tokens at most, refilled at `ratePerMs`. */
export interface BucketRate {
  bucket: string;
  capacity: number;
  ratePerMs: number;
}

/**
 * keyferry paces itself this far under a published quota: a request leaves keyferry's limiter and reaches
 * the cloud a few milliseconds later, never exactly as spaced as it left, so pacing at 100% would cross
 * the cloud's own bucket now and then; 3% absorbs that jitter at every published rate.
 */
export const QUOTA_HEADROOM = 0.97;

/**
 * The bucket for one request. `rateLimitPerSecond` of a destination replaces the table: one bucket for all
 * its requests, taken as given. The table's quotas are multiplied by `scale` (KEYFERRY_RATE_LIMIT_SCALE:
 * below 1 to leave room for other clients of the same account, above 1 for emulators and raised quotas)
 * and by the headroom.
 */
export function bucketRate(
  provider: Provider,
  operation: string,
  scale: number,
  rateLimitPerSecond: number | undefined,
  managedHsm = false,
): BucketRate {
  if (rateLimitPerSecond !== undefined && rateLimitPerSecond > 0) {
    return {
      bucket: "requests",
      capacity: Math.max(1, rateLimitPerSecond),
      ratePerMs: rateLimitPerSecond / 1000,
    };
  }
  const quota = quotaFor(provider, operation, managedHsm);
  const limit = quota.limit * scale * QUOTA_HEADROOM;
  return { bucket: quota.bucket, capacity: Math.max(1, limit), ratePerMs: limit / quota.windowMs };
}

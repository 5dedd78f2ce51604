import type { KeyUsageType, KeySpec as SdkKeySpec } from "@aws-sdk/client-kms";
import { KEY_TYPE_INFO, type KeyType } from "../../crypto/key-types.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { KeyToDistribute, KmsDestination, Purpose } from "../kms-provider.js";

/**
 * What AWS KMS can hold (SPEC section 2), decided before any remote call. Protection: both `hsm` and
 * `software` become ordinary KMS keys, because every KMS key's material lives in KMS's FIPS 140-3 validated
 * HSMs; AWS offers no software-protected tier to choose, so `software` is honoured with more, not less.
 */

export const KEY_SPECS: Readonly<Record<KeyType, SdkKeySpec>> = {
  "aes256-gcm96": "SYMMETRIC_DEFAULT",
  "rsa-2048": "RSA_2048",
  "rsa-3072": "RSA_3072",
  "rsa-4096": "RSA_4096",
  "ecdsa-p256": "ECC_NIST_P256",
  "ecdsa-p384": "ECC_NIST_P384",
  "ecdsa-p521": "ECC_NIST_P521",
};

const ENCRYPT_FAMILY: readonly Purpose[] = ["encrypt", "decrypt", "wrap", "unwrap"];
const SIGN_FAMILY: readonly Purpose[] = ["sign", "verify"];

/** Alias names: `alias/` then these characters (CreateAlias reference); `alias/aws/` is AWS's own. */
const ALIAS_TAIL = /^[a-zA-Z0-9/_-]+$/;
const DEFAULT_PREFIX = "keyferry";
const REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;

export function isSymmetric(key: Pick<KeyToDistribute, "type">): boolean {
  return KEY_TYPE_INFO[key.type].family === "aes";
}

/** The KeyUsage a purpose set needs; call after checkSupport, which refuses the mixtures. */
export function keyUsageOf(key: KeyToDistribute): KeyUsageType {
  return key.purposes.some((purpose) => SIGN_FAMILY.includes(purpose)) ? "SIGN_VERIFY" : "ENCRYPT_DECRYPT";
}

export function aliasNameOf(destination: KmsDestination, key: Pick<KeyToDistribute, "name">): string {
  return `alias/${destination.options.namePrefix ?? DEFAULT_PREFIX}/${key.name}`;
}

/** ScheduleKeyDeletion's waiting period: the destination's `pendingWindowDays`, 7..30, default 30. */
export function pendingWindowOf(destination: KmsDestination): number {
  const days = destination.options.pendingWindowDays ?? 30;
  if (!Number.isInteger(days) || days < 7 || days > 30) {
    throw refusal("invalid_pending_window", "pendingWindowDays must be a whole number of days from 7 to 30", {
      field: "options.pendingWindowDays",
    });
  }
  return days;
}

/** Refuse, with a 422 naming the rule, what AWS KMS cannot hold. */
export function checkSupport(destination: KmsDestination, key: KeyToDistribute): void {
  if (destination.provider !== "awskms") {
    throw refusal("wrong_provider", `kms ${destination.name} is not an AWS KMS destination`, {});
  }
  if (!REGION.test(destination.keyCollection)) {
    throw refusal("invalid_region", `keyCollection must be an AWS region such as eu-west-1`, {
      field: "keyCollection",
    });
  }
  checkPurposes(key);
  const alias = aliasNameOf(destination, key);
  if (!ALIAS_TAIL.test(alias.slice("alias/".length)) || alias.startsWith("alias/aws/")) {
    throw refusal(
      "unsupported_remote_name",
      `AWS KMS alias ${alias} is not allowed: after "alias/" only letters, digits, "/", "_" and "-", ` +
        'and never "alias/aws/" (reserved for AWS managed keys)',
      { field: "namePrefix", key: key.name },
    );
  }
  pendingWindowOf(destination);
  checkReplicaRegions(destination, key);
}

/** keyferry's bound on replica regions per destination (also checked by the options schema). */
const MAX_REPLICA_REGIONS = 10;

/** The destination's replica regions (multi-Region keys), none by default. */
export function replicaRegionsOf(destination: KmsDestination): readonly string[] {
  return destination.options.replicaRegions ?? [];
}

/**
 * Replica regions: valid, unique, not the destination's own region, at most 10. AES keys in the `single-key`
 * layout are refused with replicas: AWS allows it (new material into the primary, the same into each replica
 * as EXISTING_KEY_MATERIAL, then RotateKeyOnDemand on the primary), but keyferry does not implement that
 * sequence yet; the default `key-per-version` layout replicates each version's key.
 */
function checkReplicaRegions(destination: KmsDestination, key: KeyToDistribute): void {
  const regions = replicaRegionsOf(destination);
  if (regions.length === 0) return;
  const field = { field: "options.replicaRegions" };
  if (regions.length > MAX_REPLICA_REGIONS) {
    throw refusal("invalid_replica_regions", `at most ${MAX_REPLICA_REGIONS} replica regions`, field);
  }
  if (regions.some((region) => !REGION.test(region)) || new Set(regions).size !== regions.length) {
    throw refusal(
      "invalid_replica_regions",
      "replicaRegions must be unique AWS regions such as us-east-1",
      field,
    );
  }
  if (regions.includes(destination.keyCollection)) {
    throw refusal(
      "invalid_replica_regions",
      `replicaRegions must not name the destination's own region ${destination.keyCollection}`,
      field,
    );
  }
  if (isSymmetric(key) && destination.options.awsSymmetricLayout === "single-key") {
    throw refusal(
      "unsupported_replication",
      `keyferry replicates AES keys to other regions only in the key-per-version layout: kms ${destination.name} ` +
        'has awsSymmetricLayout "single-key" and replicaRegions; rotating a multi-Region key\'s imported ' +
        "material in place is not implemented",
      { ...field, key: key.name },
    );
  }
}

function checkPurposes(key: KeyToDistribute): void {
  const details = { keyType: key.type, purposes: [...key.purposes] };
  if (key.purposes.length === 0) {
    throw refusal("unsupported_purposes", "at least one purpose is needed", details);
  }
  const encrypts = key.purposes.some((purpose) => ENCRYPT_FAMILY.includes(purpose));
  const signs = key.purposes.some((purpose) => SIGN_FAMILY.includes(purpose));
  const family = KEY_TYPE_INFO[key.type].family;
  if (family === "rsa" && encrypts && signs) {
    throw refusal(
      "unsupported_purposes",
      `AWS KMS: an RSA key has one key usage, ENCRYPT_DECRYPT or SIGN_VERIFY, so ${key.type} cannot serve ` +
        "encrypt/decrypt/wrap/unwrap and sign/verify together; distribute it for one family of purposes",
      details,
    );
  }
  if (family === "ec" && encrypts) {
    throw refusal(
      "unsupported_purposes",
      `AWS KMS: elliptic-curve keys (${key.type}) only sign and verify; encrypt, decrypt, wrap and unwrap ` +
        "need an RSA or AES key",
      details,
    );
  }
  if (family === "aes" && signs) {
    throw refusal(
      "unsupported_purposes",
      `AWS KMS: symmetric keys (${key.type}) only encrypt, decrypt, wrap and unwrap; sign and verify need an ` +
        "RSA or elliptic-curve key",
      details,
    );
  }
}

function refusal(code: string, message: string, details: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(code, message, details);
}

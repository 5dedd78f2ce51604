import type { QuotaRule } from "../common/quota.js";
import type { CryptoOperation } from "./crypto/key-operations.js";
import type { KeyFamily } from "./keys/key-types.js";
import type { CurveName } from "./state/model.js";

/**
 * Key Vault's published request limits, as QuotaLimiter buckets. Source: "Azure Key Vault service limits"
 * (learn.microsoft.com/azure/key-vault/general/service-limits; MicrosoftDocs/azure-docs
 * includes/key-vault-limits.md, 2021-05-28 revision, the figures still published).
 *
 * Vaults, per vault per region, per 10 seconds:
 *   | key type        | HSM CREATE | HSM other | software CREATE | software other |
 *   | RSA 2048        | 10         | 2,000     | 20              | 4,000          |
 *   | RSA 3072        | 10         | 500       | 20              | 1,000          |
 *   | RSA 4096        | 10         | 250       | 20              | 500            |
 *   | EC P-256/384/521| 10         | 2,000     | 20              | 4,000          |
 *   | vault transactions, "all other transactions": 4,000                          |
 * The service weights these thresholds and enforces their sum; QuotaLimiter takes one token per bucket,
 * so the emulator approximates: each request takes a token from its key class's bucket and one from the
 * 4,000 ceiling, which caps any mix at what the cheapest class allows.
 *
 * Import counts as CREATE: the limits name only "CREATE key", and an import creates a key version in the
 * vault's HSM or software store exactly as create does (for BYOK after an HSM unwrap), so pacing imports
 * at the CREATE rate is both what the table implies and the safe side for keyferry's rate limits.
 *
 * Managed HSM, per HSM instance, per second (the figures "with at least one partition available"):
 * create 1; delete, purge 10 (recover has no figure and is counted like delete); get 1,100 (update and
 * list counted as get); RSA encrypt/wrap/verify 10,000 / 10,000 / 6,000 and decrypt/unwrap/sign
 * 1,100 / 360 / 160 for 2048 / 3072 / 4096 bits; EC sign 260 / 165 / 56 and verify 130 / 82 / 28 for
 * P-256 / P-384 / P-521; AES encrypt/decrypt 8,000, wrap/unwrap 9,000.
 */

export type QuotaOperation =
  | "create"
  | "get"
  | "list"
  | "update"
  | "delete"
  | "purge"
  | "recover"
  | CryptoOperation;

export interface KeyClass {
  hsm: boolean;
  family: KeyFamily;
  /** RSA modulus length. */
  bits?: number;
  curve?: CurveName;
}

const per10s = (requests: number): QuotaRule => ({ requests, perSeconds: 10 });
const perSecond = (requests: number): QuotaRule => ({ requests, perSeconds: 1 });

export const VAULT_QUOTAS: Readonly<Record<string, QuotaRule>> = {
  "vault-transactions": per10s(4000),
  "hsm-create": per10s(10),
  "software-create": per10s(20),
  "hsm-rsa-2048": per10s(2000),
  "hsm-rsa-3072": per10s(500),
  "hsm-rsa-4096": per10s(250),
  "hsm-ec": per10s(2000),
  "software-rsa-2048": per10s(4000),
  "software-rsa-3072": per10s(1000),
  "software-rsa-4096": per10s(500),
  "software-ec": per10s(4000),
};

const RSA_FAST = { 2048: 10000, 3072: 10000, 4096: 6000 } as const;
const RSA_SLOW = { 2048: 1100, 3072: 360, 4096: 160 } as const;
const EC_SIGN = { "P-256": 260, "P-384": 165, "P-521": 56 } as const;
const EC_VERIFY = { "P-256": 130, "P-384": 82, "P-521": 28 } as const;

export const MANAGED_HSM_QUOTAS: Readonly<Record<string, QuotaRule>> = {
  "mhsm-create": perSecond(1),
  "mhsm-delete": perSecond(10),
  "mhsm-purge": perSecond(10),
  "mhsm-get": perSecond(1100),
  ...Object.fromEntries(
    ([2048, 3072, 4096] as const).flatMap((bits) => [
      ...(["encrypt", "wrapKey", "verify"] as const).map((op) => [
        `mhsm-rsa-${bits}-${op}`,
        perSecond(RSA_FAST[bits]),
      ]),
      ...(["decrypt", "unwrapKey", "sign"] as const).map((op) => [
        `mhsm-rsa-${bits}-${op}`,
        perSecond(RSA_SLOW[bits]),
      ]),
    ]),
  ),
  ...Object.fromEntries(
    (["P-256", "P-384", "P-521"] as const).flatMap((curve) => [
      [`mhsm-ec-${curve}-sign`, perSecond(EC_SIGN[curve])],
      [`mhsm-ec-${curve}-verify`, perSecond(EC_VERIFY[curve])],
    ]),
  ),
  "mhsm-aes-encrypt": perSecond(8000),
  "mhsm-aes-decrypt": perSecond(8000),
  "mhsm-aes-wrapKey": perSecond(9000),
  "mhsm-aes-unwrapKey": perSecond(9000),
};

/** The buckets one request takes a token from; a key class is known for every operation on one key. */
export function quotaBuckets(
  managedHsm: boolean,
  operation: QuotaOperation,
  key: KeyClass | undefined,
): string[] {
  return managedHsm ? [managedHsmBucket(operation, key)] : vaultBuckets(operation, key);
}

function vaultBuckets(operation: QuotaOperation, key: KeyClass | undefined): string[] {
  const buckets = ["vault-transactions"];
  if (operation === "create") buckets.push(key?.hsm ? "hsm-create" : "software-create");
  else if (key && operation !== "list") {
    const protection = key.hsm ? "hsm" : "software";
    buckets.push(key.family === "rsa" ? `${protection}-rsa-${key.bits ?? 2048}` : `${protection}-ec`);
  }
  return buckets;
}

function managedHsmBucket(operation: QuotaOperation, key: KeyClass | undefined): string {
  switch (operation) {
    case "create":
      return "mhsm-create";
    case "delete":
    case "recover":
      return "mhsm-delete";
    case "purge":
      return "mhsm-purge";
    case "get":
    case "list":
    case "update":
      return "mhsm-get";
    default:
      if (!key) return "mhsm-get";
      if (key.family === "rsa") return `mhsm-rsa-${key.bits ?? 2048}-${operation}`;
      if (key.family === "ec") return `mhsm-ec-${key.curve ?? "P-256"}-${operation}`;
      return `mhsm-aes-${operation}`;
  }
}

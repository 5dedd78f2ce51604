import type { KeyType as AzureKeyType, KeyCurveName, KeyOperation } from "@azure/keyvault-keys";
import { KEY_TYPE_INFO } from "../../crypto/key-types.js";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { KeyToDistribute, KmsDestination, Purpose } from "../kms-provider.js";
import { remoteKeyName } from "./names.js";

/**
 * What Key Vault can hold (SPEC section 2; "Key types, algorithms, and operations", Microsoft Learn):
 * RSA keys take any of the six operations; EC keys only sign and verify; AES keys (`oct-HSM`) exist only in a
 * Managed HSM and only encrypt, decrypt, wrap and unwrap; a Managed HSM holds HSM-protected keys only.
 */

const KEY_OPS: Readonly<Record<Purpose, KeyOperation>> = {
  encrypt: "encrypt",
  decrypt: "decrypt",
  sign: "sign",
  verify: "verify",
  wrap: "wrapKey",
  unwrap: "unwrapKey",
};

const SIGNING: readonly Purpose[] = ["sign", "verify"];
const ENCRYPTING: readonly Purpose[] = ["encrypt", "decrypt", "wrap", "unwrap"];

/** How one keyferry key is written into Azure. */
export interface AzureKeyShape {
  kty: AzureKeyType;
  crv: KeyCurveName | undefined;
  keyOps: KeyOperation[];
  hsm: boolean;
}

/** Refuse, with a 422 naming the rule, what Key Vault cannot hold; otherwise say how to write it. */
export function azureKeyShape(destination: KmsDestination, key: KeyToDistribute): AzureKeyShape {
  const info = KEY_TYPE_INFO[key.type];
  const managedHsm = destination.options.managedHsm === true;
  const purposes = [...new Set(key.purposes)];
  if (purposes.length === 0) {
    refuse("unsupported_purposes", "a distribution to Azure Key Vault needs at least one purpose", key);
  }
  const hsm = key.protection === "hsm";
  if (!hsm && managedHsm) {
    refuse(
      "unsupported_protection",
      'a Managed HSM holds only HSM-protected keys: use protection "hsm"',
      key,
    );
  }
  if (info.family === "aes") {
    if (!managedHsm) {
      refuse(
        "unsupported_key_type",
        `${key.type} keys need an Azure Managed HSM (oct-HSM); a key vault holds no AES keys ` +
          '(set option "managedHsm" on a Managed HSM destination)',
        key,
      );
    }
    if (!hsm) refuse("unsupported_protection", "AES keys exist in Azure only as HSM keys (oct-HSM)", key);
    refuseMixing(key, purposes, SIGNING, "AES keys in Azure cannot sign or verify");
  }
  if (info.family === "ec") {
    refuseMixing(key, purposes, ENCRYPTING, "EC keys in Azure can only sign and verify");
  }
  // The remote name is part of what is supported: a name Azure cannot hold is refused here too.
  remoteKeyName(key.name, destination.options);

  const base = info.family === "aes" ? "oct" : info.family === "rsa" ? "RSA" : "EC";
  return {
    kty: (hsm ? `${base}-HSM` : base) as AzureKeyType,
    crv: info.joseCurve,
    keyOps: purposes.map((purpose) => KEY_OPS[purpose]),
    hsm,
  };
}

function refuseMixing(
  key: KeyToDistribute,
  purposes: readonly Purpose[],
  forbidden: readonly Purpose[],
  rule: string,
): void {
  const bad = purposes.filter((purpose) => forbidden.includes(purpose));
  if (bad.length > 0) refuse("unsupported_purposes", `${rule} (asked for ${bad.join(", ")})`, key);
}

function refuse(code: string, rule: string, key: KeyToDistribute): never {
  throw new InvalidInputError(
    code,
    `Azure Key Vault cannot hold this combination: ${rule} (key ${key.name}, ${key.type})`,
    {
      type: key.type,
      purposes: [...key.purposes],
      protection: key.protection,
    },
  );
}

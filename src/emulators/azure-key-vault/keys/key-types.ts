import { badParameter } from "../errors.js";
import type { CurveName, KeyVaultKeyType } from "../state/model.js";

/**
 * Which key types, sizes, curves and key operations the emulated vault accepts ("Key types, algorithms,
 * and operations", Microsoft Learn): RSA 2048/3072/4096 and EC P-256/P-384/P-521, software or HSM, in a
 * vault; only HSM types, plus AES (`oct-HSM`) keys, in a Managed HSM.
 */

export type KeyFamily = "rsa" | "ec" | "oct";

export const RSA_SIZES: readonly number[] = [2048, 3072, 4096];
export const OCT_SIZES: readonly number[] = [128, 192, 256];
export const CURVES: readonly CurveName[] = ["P-256", "P-384", "P-521"];

const KEY_TYPES: Readonly<Record<KeyVaultKeyType, KeyFamily>> = {
  RSA: "rsa",
  "RSA-HSM": "rsa",
  EC: "ec",
  "EC-HSM": "ec",
  "oct-HSM": "oct",
};

const SUPPORTED_OPS: Readonly<Record<KeyFamily, readonly string[]>> = {
  rsa: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
  ec: ["sign", "verify"],
  oct: ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
};

/** A key exchange key (BYOK) carries `import` and nothing else. */
export const IMPORT_OP = "import";

export function familyOf(kty: KeyVaultKeyType): KeyFamily {
  return KEY_TYPES[kty];
}

/** Validate a requested `kty` against what this kind of vault offers. */
export function parseKeyType(kty: string, managedHsm: boolean): KeyVaultKeyType {
  if (!Object.hasOwn(KEY_TYPES, kty)) {
    throw badParameter(
      `The key type "${kty}" is not supported. Supported key types are ${supportedList(managedHsm)}.`,
    );
  }
  const type = kty as KeyVaultKeyType;
  if (type === "oct-HSM" && !managedHsm) {
    throw badParameter('The key type "oct-HSM" is only supported by Managed HSM, not by a key vault.');
  }
  if (managedHsm && !type.endsWith("-HSM")) {
    throw badParameter(`Managed HSM keys are HSM-protected: use "${type}-HSM" instead of "${type}".`);
  }
  return type;
}

/**
 * The key operations of a new or updated key: the type's full set when none are given; otherwise only
 * operations the type supports, and `import` (RSA-HSM only) alone, as the BYOK specification fixes it.
 */
export function resolveKeyOps(kty: KeyVaultKeyType, requested: readonly string[] | undefined): string[] {
  const family = familyOf(kty);
  const supported = SUPPORTED_OPS[family];
  if (requested === undefined) return [...supported];
  const ops = [...new Set(requested)];
  if (ops.includes(IMPORT_OP)) {
    if (kty !== "RSA-HSM") throw badParameter(`The key operation "import" is only valid on RSA-HSM keys.`);
    if (ops.length > 1) {
      throw badParameter(
        'The key operation "import" is exclusive: a key exchange key cannot have other key operations.',
      );
    }
    return ops;
  }
  const unsupported = ops.filter((op) => !supported.includes(op));
  if (unsupported.length > 0) {
    throw badParameter(
      `Unsupported key operation(s): ${quoted(unsupported)}. Supported values are ${quoted(supported)}.`,
    );
  }
  return ops;
}

export function isKeyExchangeKey(kty: KeyVaultKeyType, keyOps: readonly string[]): boolean {
  return kty === "RSA-HSM" && keyOps.length === 1 && keyOps[0] === IMPORT_OP;
}

function quoted(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(", ");
}

function supportedList(managedHsm: boolean): string {
  return managedHsm ? '"RSA-HSM", "EC-HSM", "oct-HSM"' : '"RSA", "RSA-HSM", "EC", "EC-HSM"';
}

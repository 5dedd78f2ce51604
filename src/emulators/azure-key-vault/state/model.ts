import type { KeyObject } from "node:crypto";

/** The key types the emulator keeps: Key Vault's software and HSM types, and Managed HSM's AES keys. */
export type KeyVaultKeyType = "RSA" | "RSA-HSM" | "EC" | "EC-HSM" | "oct-HSM";

export type CurveName = "P-256" | "P-384" | "P-521";

/** The private half of one version, parsed once (crypto calls take the KeyObject, never PEM text). */
export type KeySecret =
  | { family: "rsa"; privateKey: KeyObject; bits: number }
  | { family: "ec"; privateKey: KeyObject; curve: CurveName }
  | { family: "oct"; bytes: Buffer };

/** One key version, in service terms: times are unix seconds, as on the wire. */
export interface KeyVersion {
  /** 32 lowercase hex digits, the last segment of the kid. */
  version: string;
  kty: KeyVaultKeyType;
  keyOps: string[];
  enabled: boolean;
  notBefore?: number;
  expires?: number;
  created: number;
  updated: number;
  tags?: Record<string, string>;
  secret: KeySecret;
}

export interface DeletionInfo {
  deletedDate: number;
  scheduledPurgeDate: number;
}

/** A key name and every version ever created under it, in creation order (the last one is "latest"). */
export interface StoredKey {
  name: string;
  versions: KeyVersion[];
  deleted?: DeletionInfo;
}

export function latestVersion(key: StoredKey): KeyVersion {
  const latest = key.versions[key.versions.length - 1];
  // A StoredKey is only ever created together with its first version.
  if (!latest) throw new Error(`key ${key.name} has no versions`);
  return latest;
}

export function isHsmType(kty: KeyVaultKeyType): boolean {
  return kty.endsWith("-HSM");
}

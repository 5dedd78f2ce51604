import type { KeyObject } from "node:crypto";
import type { AwsWrappingAlgorithm } from "../../crypto/wrap-aws.js";
import type { KeyUsage, SupportedKeySpec } from "./key-specs.js";

/**
 * The emulated account's state: keys with their key materials, aliases, tags, and the outstanding import
 * parameters (wrapping key pairs and their tokens). Everything is region-scoped as in the real service:
 * a key lives in the region it was created in, alias names are unique per region.
 */

/**
 * PendingReplicaDeletion: a multi-Region primary scheduled for deletion while replicas of it exist; it
 * waits there until the last replica is deleted, then its own waiting period starts.
 */
export type KeyState =
  | "Enabled"
  | "Disabled"
  | "PendingImport"
  | "PendingDeletion"
  | "PendingReplicaDeletion";
export type Origin = "AWS_KMS" | "EXTERNAL";
export type ExpirationModel = "KEY_MATERIAL_EXPIRES" | "KEY_MATERIAL_DOES_NOT_EXPIRE";
export type KeyMaterialState = "CURRENT" | "NON_CURRENT" | "PENDING_ROTATION";

/** One key material of a key. Symmetric keys may have many; asymmetric keys exactly one. */
export interface KeyMaterialRecord {
  /** 64 hex characters, derived from the key id and the material (so re-imports get the same id). */
  id: string;
  /** Raw AES bytes or PKCS#8 DER; undefined once deleted or expired (ImportState PENDING_IMPORT). */
  material: Buffer | undefined;
  state: KeyMaterialState;
  description: string | undefined;
  expirationModel: ExpirationModel | undefined;
  /** Milliseconds since the epoch; only with KEY_MATERIAL_EXPIRES. */
  validTo: number | undefined;
  /** When a rotation made this material current; absent for the first material and pending ones. */
  rotationDate: number | undefined;
  rotationType: "ON_DEMAND" | undefined;
}

export interface KmsKey {
  id: string;
  region: string;
  accountId: string;
  createdAt: number;
  description: string;
  keySpec: SupportedKeySpec;
  keyUsage: KeyUsage;
  origin: Origin;
  state: KeyState;
  deletionDate: number | undefined;
  pendingWindowInDays: number | undefined;
  /** Insertion-ordered, as ListResourceTags shows them. */
  tags: Map<string, string>;
  materials: KeyMaterialRecord[];
  /** DER SPKI of an asymmetric key, kept after its private material is deleted. */
  publicKey: Buffer | undefined;
  onDemandRotations: number;
  /** Parsed private key of an asymmetric key: a cache, never persisted. */
  privateKeyObject: KeyObject | undefined;
  /**
   * Multi-Region keys: the primary (made by CreateKey with MultiRegion) or a replica (made by ReplicateKey).
   * Related keys share the `mrk-` key id, one key per region; undefined for single-Region keys.
   */
  multiRegion: "PRIMARY" | "REPLICA" | undefined;
}

export interface Alias {
  name: string;
  region: string;
  targetKeyId: string;
  createdAt: number;
  updatedAt: number;
}

/** The answer of one GetParametersForImport: the token is the map key that leads back here. */
export interface ImportParameters {
  keyId: string;
  region: string;
  algorithm: AwsWrappingAlgorithm;
  wrappingKeySpec: "RSA_2048" | "RSA_3072" | "RSA_4096";
  privateKey: KeyObject;
  validTo: number;
}

export class KmsState {
  /**
   * Keyed by keyRef(region, id): multi-Region keys have the same id in every region they are in. Add and
   * find keys with putKey / getKey.
   */
  readonly keys = new Map<string, KmsKey>();
  /** Keyed by aliasKey(region, name). */
  readonly aliases = new Map<string, Alias>();
  /** Keyed by the import token's hex. */
  readonly importParameters = new Map<string, ImportParameters>();

  getKey(region: string, id: string): KmsKey | undefined {
    return this.keys.get(keyRef(region, id));
  }

  putKey(key: KmsKey): void {
    this.keys.set(keyRef(key.region, key.id), key);
  }

  /** The other keys of a multi-Region key (its primary and replicas in other regions); none otherwise. */
  relatedKeys(key: KmsKey): KmsKey[] {
    if (key.multiRegion === undefined) return [];
    return [...this.keys.values()].filter((other) => other.id === key.id && other !== key);
  }

  keysIn(region: string): KmsKey[] {
    return [...this.keys.values()].filter((key) => key.region === region);
  }

  aliasesIn(region: string): Alias[] {
    return [...this.aliases.values()]
      .filter((alias) => alias.region === region)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  aliasesOf(key: KmsKey): Alias[] {
    return this.aliasesIn(key.region).filter((alias) => alias.targetKeyId === key.id);
  }

  findAlias(region: string, name: string): Alias | undefined {
    return this.aliases.get(aliasKey(region, name));
  }

  putAlias(alias: Alias): void {
    this.aliases.set(aliasKey(alias.region, alias.name), alias);
  }

  deleteAlias(alias: Alias): void {
    this.aliases.delete(aliasKey(alias.region, alias.name));
  }

  /** Remove a key for good (its waiting period ended): material zeroed, aliases and import parameters gone. */
  removeKey(key: KmsKey): void {
    for (const record of key.materials) record.material?.fill(0);
    for (const alias of this.aliasesOf(key)) this.deleteAlias(alias);
    for (const [token, parameters] of this.importParameters) {
      if (parameters.keyId === key.id && parameters.region === key.region)
        this.importParameters.delete(token);
    }
    this.keys.delete(keyRef(key.region, key.id));
  }
}

function keyRef(region: string, id: string): string {
  return `${region}\n${id}`;
}

function aliasKey(region: string, name: string): string {
  return `${region}\n${name}`;
}

export function keyArn(key: Pick<KmsKey, "region" | "accountId" | "id">): string {
  return `arn:aws:kms:${key.region}:${key.accountId}:key/${key.id}`;
}

export function aliasArn(region: string, accountId: string, name: string): string {
  return `arn:aws:kms:${region}:${accountId}:${name}`;
}

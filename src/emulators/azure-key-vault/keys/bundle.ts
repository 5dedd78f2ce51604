import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { type DeletionInfo, type KeyVersion, latestVersion, type StoredKey } from "../state/model.js";
import { RECOVERABLE_DAYS } from "../state/vault-state.js";

/**
 * The JSON shapes the SDK deserializes (models.js in @azure/keyvault-keys: keyBundleDeserializer,
 * keyItemDeserializer, deletedKeyBundleDeserializer): snake_case JWK fields, byte fields base64url without
 * padding, times as unix seconds. The kid is rendered from the vault URL at answer time, so that stored
 * state does not depend on the address the emulator happens to listen on.
 */

/** What a vault with soft delete and without purge protection reports. */
const RECOVERY_LEVEL = "Recoverable+Purgeable";

export function keyId(vaultUrl: string, name: string, version?: string): string {
  return version ? `${vaultUrl}/keys/${name}/${version}` : `${vaultUrl}/keys/${name}`;
}

export function recoveryId(vaultUrl: string, name: string): string {
  return `${vaultUrl}/deletedkeys/${name}`;
}

export function keyBundle(vaultUrl: string, name: string, version: KeyVersion): Record<string, unknown> {
  return {
    key: {
      kid: keyId(vaultUrl, name, version.version),
      kty: version.kty,
      key_ops: [...version.keyOps],
      ...publicJwk(version),
    },
    attributes: attributes(version),
    ...(version.tags ? { tags: { ...version.tags } } : {}),
  };
}

/** An entry of list keys: the kid without version, with the latest version's attributes and tags. */
export function keyItem(vaultUrl: string, key: StoredKey): Record<string, unknown> {
  const latest = latestVersion(key);
  return {
    kid: keyId(vaultUrl, key.name),
    attributes: attributes(latest),
    ...(latest.tags ? { tags: { ...latest.tags } } : {}),
  };
}

export function versionItem(vaultUrl: string, name: string, version: KeyVersion): Record<string, unknown> {
  return {
    kid: keyId(vaultUrl, name, version.version),
    attributes: attributes(version),
    ...(version.tags ? { tags: { ...version.tags } } : {}),
  };
}

export function deletedKeyBundle(
  vaultUrl: string,
  key: StoredKey & { deleted: DeletionInfo },
): Record<string, unknown> {
  return {
    ...keyBundle(vaultUrl, key.name, latestVersion(key)),
    ...deletionFields(vaultUrl, key),
  };
}

export function deletedKeyItem(
  vaultUrl: string,
  key: StoredKey & { deleted: DeletionInfo },
): Record<string, unknown> {
  return { ...keyItem(vaultUrl, key), ...deletionFields(vaultUrl, key) };
}

function deletionFields(vaultUrl: string, key: StoredKey & { deleted: DeletionInfo }) {
  return {
    recoveryId: recoveryId(vaultUrl, key.name),
    deletedDate: key.deleted.deletedDate,
    scheduledPurgeDate: key.deleted.scheduledPurgeDate,
  };
}

function attributes(version: KeyVersion): Record<string, unknown> {
  return {
    enabled: version.enabled,
    ...(version.notBefore !== undefined ? { nbf: version.notBefore } : {}),
    ...(version.expires !== undefined ? { exp: version.expires } : {}),
    created: version.created,
    updated: version.updated,
    recoveryLevel: RECOVERY_LEVEL,
    recoverableDays: RECOVERABLE_DAYS,
    exportable: false,
  };
}

// Exporting a public JWK is cheap but not free; bundles are rendered on every get and list.
const publicJwkCache = new WeakMap<KeyObject, JsonWebKey>();

/** n/e for RSA, crv/x/y for EC; nothing for AES keys, whose material the service never returns. */
export function publicJwk(version: KeyVersion): Record<string, string> {
  const { secret } = version;
  if (secret.family === "oct") return {};
  let jwk = publicJwkCache.get(secret.privateKey);
  if (!jwk) {
    jwk = createPublicKey(secret.privateKey).export({ format: "jwk" });
    publicJwkCache.set(secret.privateKey, jwk);
  }
  return secret.family === "rsa"
    ? { n: jwk.n ?? "", e: jwk.e ?? "" }
    : { crv: secret.curve, x: jwk.x ?? "", y: jwk.y ?? "" };
}

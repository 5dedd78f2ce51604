import { createHmac, createPrivateKey, type KeyObject } from "node:crypto";
import { invalidState } from "./errors.js";
import { KEY_SPEC_INFO } from "./key-specs.js";
import type { KeyMaterialRecord, KmsKey, KmsState } from "./state.js";

/**
 * Key materials of a key and the rules that tie them to the key's state, as the developer guide's
 * "Delete imported key material" page states them: deleting or expiring any material that is permanently
 * associated with the key (CURRENT or NON_CURRENT) makes the whole key PendingImport and unusable until that
 * same material is imported again; PENDING_ROTATION material is not permanently associated and simply goes.
 */

/**
 * The material id. KMS derives it "from the KMS key ID and the imported key material" (ImportKeyMaterial
 * reference), so re-importing the same material yields the same id. An HMAC keyed by the material keeps
 * the id from revealing anything about the material.
 */
export function materialIdOf(keyId: string, material: Uint8Array): string {
  return createHmac("sha256", material)
    .update(`keyferry aws-kms emulator material id\n${keyId}`)
    .digest("hex");
}

export function isSymmetric(key: KmsKey): boolean {
  return KEY_SPEC_INFO[key.keySpec].family === "aes";
}

export function currentMaterial(key: KmsKey): KeyMaterialRecord | undefined {
  return key.materials.find((record) => record.state === "CURRENT");
}

/** Materials that make up the key (everything except imported material waiting for a rotation). */
export function permanentMaterials(key: KmsKey): KeyMaterialRecord[] {
  return key.materials.filter((record) => record.state !== "PENDING_ROTATION");
}

/** Whether every permanently associated material is present, i.e. the key can leave PendingImport. */
export function hasAllMaterial(key: KmsKey): boolean {
  const permanent = permanentMaterials(key);
  return permanent.length > 0 && permanent.every((record) => record.material !== undefined);
}

/**
 * Bring the key state in line with its materials: PendingImport while any permanent material is missing,
 * Enabled once the last one is back. PendingDeletion is left alone (DeleteImportedKeyMaterial reference).
 */
export function refreshImportState(key: KmsKey): void {
  if (key.origin !== "EXTERNAL" || key.state === "PendingDeletion" || key.state === "PendingReplicaDeletion")
    return;
  if (!hasAllMaterial(key)) key.state = "PendingImport";
  else if (key.state === "PendingImport") key.state = "Enabled";
}

/** Delete a material's bytes (zeroed); pending material is dropped from the key altogether. */
export function deleteMaterial(key: KmsKey, record: KeyMaterialRecord): void {
  record.material?.fill(0);
  record.material = undefined;
  record.expirationModel = undefined;
  record.validTo = undefined;
  if (record.state === "PENDING_ROTATION") key.materials = key.materials.filter((other) => other !== record);
  key.privateKeyObject = undefined;
  refreshImportState(key);
}

/** The private key of an asymmetric key, parsed once. */
export function privateKeyOf(key: KmsKey): KeyObject {
  if (key.privateKeyObject) return key.privateKeyObject;
  const material = currentMaterial(key)?.material;
  if (!material) throw invalidState(`${key.id} has no key material.`);
  key.privateKeyObject = createPrivateKey({ key: material, format: "der", type: "pkcs8" });
  return key.privateKeyObject;
}

/**
 * Apply the passage of time, lazily at the start of each request: materials past their ValidTo are deleted
 * (as KMS deletes expired material), keys past their DeletionDate are deleted (a multi-Region primary
 * pending replica deletion starts its waiting period when its last replica is gone), and import parameters
 * expired for more than a day are forgotten (until then they answer ExpiredImportTokenException).
 * Returns whether anything changed, so the caller can persist.
 */
export function applyTime(state: KmsState, now: number): boolean {
  let changed = false;
  for (const key of [...state.keys.values()]) {
    if (key.state === "PendingDeletion" && key.deletionDate !== undefined && key.deletionDate <= now) {
      state.removeKey(key);
      changed = true;
      continue;
    }
    for (const record of [...key.materials]) {
      if (record.material && record.validTo !== undefined && record.validTo <= now) {
        deleteMaterial(key, record);
        changed = true;
      }
    }
  }
  // A multi-Region primary waiting for its replicas starts its own waiting period once the last is gone.
  for (const key of state.keys.values()) {
    if (key.state !== "PendingReplicaDeletion" || state.relatedKeys(key).length > 0) continue;
    key.state = "PendingDeletion";
    key.deletionDate = now + (key.pendingWindowInDays ?? 30) * 24 * 3600 * 1000;
    changed = true;
  }
  const forgetBefore = now - 24 * 3600 * 1000;
  for (const [token, parameters] of state.importParameters) {
    if (parameters.validTo < forgetBefore) {
      state.importParameters.delete(token);
      changed = true;
    }
  }
  return changed;
}

/** The earliest expiry among permanent materials: DescribeKey's ValidTo. */
export function earliestValidTo(key: KmsKey): number | undefined {
  const times = permanentMaterials(key)
    .map((record) => record.validTo)
    .filter((time): time is number => time !== undefined);
  return times.length === 0 ? undefined : Math.min(...times);
}

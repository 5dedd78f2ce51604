import { timingSafeEqual } from "node:crypto";
import { materialMatchesType, publicKeyOf } from "../../../crypto/generate.js";
import { incorrectKeyMaterial, invalidState, validation } from "../errors.js";
import { KEY_SPEC_INFO } from "../key-specs.js";
import { materialIdOf, permanentMaterials } from "../materials.js";
import { type KeyMaterialRecord, type KmsKey, keyArn } from "../state.js";
import type { Expiration, ImportKeyMaterialRequest } from "./import-ops.js";

/**
 * What ImportKeyMaterial does with unwrapped material, per key kind (ImportKeyMaterial reference):
 * - symmetric keys can hold many materials. ImportType defaults to NEW_KEY_MATERIAL for the first import
 *   and to EXISTING_KEY_MATERIAL afterwards. New material becomes CURRENT on a fresh key and waits as
 *   PENDING_ROTATION otherwise (RotateKeyOnDemand makes it current). Existing material must be one the key
 *   already has (its id is derived from the material, so a given KeyMaterialId must match too).
 * - asymmetric keys never change material: a re-import must be the same key (IncorrectKeyMaterialException).
 * Material that is not of the key's spec is IncorrectKeyMaterialException as well.
 * On success the material buffer is kept by the key; the caller zeroes it on failure.
 */

/** Returns the material id, which ImportKeyMaterial answers for symmetric keys. */
export function importSymmetric(
  key: KmsKey,
  material: Buffer,
  request: ImportKeyMaterialRequest,
  expiration: Expiration,
): string {
  if (!materialMatchesType(KEY_SPEC_INFO[key.keySpec].keyType, material)) {
    throw incorrectKeyMaterial(`The key material is not valid for a ${key.keySpec} key: it must be 32 bytes`);
  }
  const id = materialIdOf(key.id, material);
  const known = key.materials.find((record) => record.id === id);
  const importType =
    request.ImportType ?? (key.materials.length === 0 ? "NEW_KEY_MATERIAL" : "EXISTING_KEY_MATERIAL");

  if (importType === "NEW_KEY_MATERIAL") {
    if (request.KeyMaterialId !== undefined) {
      throw validation("KeyMaterialId cannot be specified with ImportType NEW_KEY_MATERIAL");
    }
    if (known) {
      throw incorrectKeyMaterial(
        `This key material is already associated with ${keyArn(key)}; import it with ImportType EXISTING_KEY_MATERIAL`,
      );
    }
    const first = key.materials.length === 0;
    if (!first) requireReadyForNewMaterial(key);
    key.materials.push({
      id,
      material,
      state: first ? "CURRENT" : "PENDING_ROTATION",
      description: request.KeyMaterialDescription,
      expirationModel: expiration.model,
      validTo: expiration.validTo,
      rotationDate: undefined,
      rotationType: undefined,
    });
    return id;
  }

  if (request.KeyMaterialId !== undefined && request.KeyMaterialId !== id) {
    throw incorrectKeyMaterial(`The key material does not match key material ${request.KeyMaterialId}`);
  }
  if (!known) {
    throw incorrectKeyMaterial(
      `This key material is not associated with ${keyArn(key)}; new material needs ImportType NEW_KEY_MATERIAL`,
    );
  }
  reimport(known, material, request, expiration);
  return id;
}

/** New material may join only a key whose own materials are all present and none already pending. */
function requireReadyForNewMaterial(key: KmsKey): void {
  if (key.state !== "Enabled") {
    throw invalidState(
      `${keyArn(key)} must be Enabled, with all its key material imported, to import new key material`,
    );
  }
  if (key.materials.length > permanentMaterials(key).length) {
    throw invalidState(
      `${keyArn(key)} already has key material pending rotation; rotate to it or delete it before importing more`,
    );
  }
}

export function importAsymmetric(
  key: KmsKey,
  material: Buffer,
  request: ImportKeyMaterialRequest,
  expiration: Expiration,
): undefined {
  if (request.KeyMaterialId !== undefined || request.KeyMaterialDescription !== undefined) {
    throw validation(
      "KeyMaterialId and KeyMaterialDescription are only supported for symmetric encryption keys",
    );
  }
  const keyType = KEY_SPEC_INFO[key.keySpec].keyType;
  if (!materialMatchesType(keyType, material)) {
    throw incorrectKeyMaterial(`The key material is not a valid ${key.keySpec} private key in PKCS#8 DER`);
  }
  const publicKey = publicKeyOf(keyType, material);
  const existing = key.materials[0];
  if (existing && key.publicKey) {
    const same = key.publicKey.length === publicKey.length && timingSafeEqual(key.publicKey, publicKey);
    if (!same) {
      throw incorrectKeyMaterial(
        `The key material is not the material previously imported into ${keyArn(key)}; asymmetric key material cannot change`,
      );
    }
    if (request.ImportType === "NEW_KEY_MATERIAL") {
      throw incorrectKeyMaterial(`${keyArn(key)} is asymmetric: its key material cannot change`);
    }
    reimport(existing, material, request, expiration);
  } else {
    key.materials = [
      {
        id: `asymmetric-${key.id}`,
        material,
        state: "CURRENT",
        description: undefined,
        expirationModel: expiration.model,
        validTo: expiration.validTo,
        rotationDate: undefined,
        rotationType: undefined,
      },
    ];
  }
  key.publicKey = publicKey;
  key.privateKeyObject = undefined;
  return undefined;
}

function reimport(
  record: KeyMaterialRecord,
  material: Buffer,
  request: ImportKeyMaterialRequest,
  expiration: Expiration,
): void {
  record.material?.fill(0);
  record.material = material;
  record.expirationModel = expiration.model;
  record.validTo = expiration.validTo;
  // Without a description the one given at the last import of the same material stays.
  if (request.KeyMaterialDescription !== undefined) record.description = request.KeyMaterialDescription;
}

import { timingSafeEqual } from "node:crypto";
import { materialMatchesType, publicKeyOf } from "../../../crypto/generate.js";
import { incorrectKeyMaterial, unsupported } from "../errors.js";
import { KEY_SPEC_INFO } from "../key-specs.js";
import { isSymmetric, materialIdOf } from "../materials.js";
import { type KmsKey, keyArn } from "../state.js";
import type { Expiration, ImportKeyMaterialRequest } from "./import-ops.js";
import { importSymmetric } from "./material-import.js";

/**
 * Imported material of multi-Region keys (developer guide, "Importing key material into multi-Region
 * keys"; ImportKeyMaterial reference): KMS does not copy imported material between related keys, and
 * related keys must hold the same material. So:
 * - a replica accepts only material its primary holds (or held: ids survive deletion); new symmetric
 *   material goes into the primary first (NEW_KEY_MATERIAL) and then into each replica as
 *   EXISTING_KEY_MATERIAL; NEW_KEY_MATERIAL straight into a replica that has material is refused;
 * - an asymmetric key of the set accepts only the private key whose public key the set already has;
 * - anything else is IncorrectKeyMaterialException, as for a single key given other material.
 * Material ids derive from the key id and the material, so related keys give the same material one id.
 */

/** Refuse material other than the set's before any import into a key of a multi-Region set. */
export function requireSetMaterial(key: KmsKey, related: readonly KmsKey[], material: Buffer): void {
  if (related.length === 0) return;
  if (isSymmetric(key)) {
    const known = new Set(related.flatMap((other) => other.materials.map((record) => record.id)));
    const first = key.materials.length === 0;
    if (first && known.size > 0 && !known.has(materialIdOf(key.id, material))) {
      throw differentMaterial(key);
    }
    return;
  }
  const keyType = KEY_SPEC_INFO[key.keySpec].keyType;
  if (!materialMatchesType(keyType, material)) return; // importAsymmetric names that error
  const theirs = related.find((other) => other.publicKey !== undefined)?.publicKey;
  if (theirs === undefined) return;
  const ours = publicKeyOf(keyType, material);
  if (ours.length !== theirs.length || !timingSafeEqual(ours, theirs)) throw differentMaterial(key);
}

/** A symmetric import into a replica key; returns the material id. */
export function importSymmetricReplica(
  key: KmsKey,
  related: readonly KmsKey[],
  material: Buffer,
  request: ImportKeyMaterialRequest,
  expiration: Expiration,
): string {
  if (!materialMatchesType(KEY_SPEC_INFO[key.keySpec].keyType, material)) {
    throw incorrectKeyMaterial(`The key material is not valid for a ${key.keySpec} key: it must be 32 bytes`);
  }
  const id = materialIdOf(key.id, material);
  if (key.materials.some((record) => record.id === id)) {
    return importSymmetric(key, material, { ...request, ImportType: "EXISTING_KEY_MATERIAL" }, expiration);
  }
  if (request.ImportType === "NEW_KEY_MATERIAL" && key.materials.length > 0) {
    throw unsupported(
      `${keyArn(key)} is a multi-Region replica key: import new key material into the primary key, then ` +
        "the same material into each replica with ImportType EXISTING_KEY_MATERIAL",
    );
  }
  if (request.KeyMaterialId !== undefined && request.KeyMaterialId !== id) {
    throw incorrectKeyMaterial(`The key material does not match key material ${request.KeyMaterialId}`);
  }
  const source = related.flatMap((other) => other.materials).find((record) => record.id === id);
  if (!source) throw differentMaterial(key);
  const first = key.materials.length === 0;
  key.materials.push({
    id,
    material,
    state: first ? "CURRENT" : source.state,
    description: request.KeyMaterialDescription ?? source.description,
    expirationModel: expiration.model,
    validTo: expiration.validTo,
    rotationDate: undefined,
    rotationType: undefined,
  });
  return id;
}

function differentMaterial(key: KmsKey) {
  return incorrectKeyMaterial(
    `The key material is not the key material of the multi-Region key ${keyArn(key)}: related multi-Region ` +
      "keys must hold the same key material; import into a replica the material imported into its primary key",
  );
}

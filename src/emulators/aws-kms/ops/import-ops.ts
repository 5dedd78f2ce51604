import { z } from "zod";
import { unwrapAws } from "../../../crypto/wrap-aws.js";
import type { OperationContext, OperationOutput } from "../context.js";
import {
  expiredImportToken,
  invalidCiphertext,
  invalidImportToken,
  invalidState,
  notFound,
  validation,
} from "../errors.js";
import { findKey, requireState, stateMessage } from "../key-lookup.js";
import { currentMaterial, deleteMaterial, isSymmetric, refreshImportState } from "../materials.js";
import { type ExpirationModel, type ImportParameters, type KmsKey, keyArn } from "../state.js";
import { blob, keyIdMember, parseInput, timestamp } from "../validation.js";
import { requireImportable } from "./import-parameters-ops.js";
import { importAsymmetric, importSymmetric } from "./material-import.js";
import { importSymmetricReplica, requireSetMaterial } from "./multi-region-material.js";

/** ImportKeyMaterial and DeleteImportedKeyMaterial. */

const MAX_VALID_TO_MS = 365 * 24 * 3600 * 1000;

const ImportKeyMaterialInput = z.object({
  KeyId: keyIdMember,
  ImportToken: blob(1, 6144),
  EncryptedKeyMaterial: blob(1, 6144),
  ValidTo: timestamp.optional(),
  ExpirationModel: z.enum(["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"]).optional(),
  ImportType: z.enum(["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"]).optional(),
  KeyMaterialDescription: z.string().max(256).optional(),
  KeyMaterialId: z.string().length(64).optional(),
});

export type ImportKeyMaterialRequest = z.output<typeof ImportKeyMaterialInput>;

export interface Expiration {
  model: ExpirationModel;
  validTo: number | undefined;
}

export function importKeyMaterial(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ImportKeyMaterialInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireImportable(key);
  requireState(key, ["PendingImport", "Enabled"]);
  const expiration = checkExpiration(request, context.now);
  const parameters = checkToken(context, key, request.ImportToken);

  const material = unwrap(parameters, request.EncryptedKeyMaterial);
  let kept = false;
  try {
    const related = context.state.relatedKeys(key);
    requireSetMaterial(key, related, material);
    const materialId = !isSymmetric(key)
      ? importAsymmetric(key, material, request, expiration)
      : key.multiRegion === "REPLICA"
        ? importSymmetricReplica(key, related, material, request, expiration)
        : importSymmetric(key, material, request, expiration);
    kept = true;
    refreshImportState(key);
    return materialId === undefined
      ? { KeyId: keyArn(key) }
      : { KeyId: keyArn(key), KeyMaterialId: materialId };
  } finally {
    if (!kept) material.fill(0);
  }
}

/** KEY_MATERIAL_EXPIRES (the default) needs a ValidTo within the next 365 days; the other model forbids it. */
function checkExpiration(request: ImportKeyMaterialRequest, now: number): Expiration {
  const model = request.ExpirationModel ?? "KEY_MATERIAL_EXPIRES";
  if (model === "KEY_MATERIAL_DOES_NOT_EXPIRE") {
    if (request.ValidTo !== undefined) {
      throw validation("ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE");
    }
    return { model, validTo: undefined };
  }
  if (request.ValidTo === undefined) {
    throw validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES (the default)");
  }
  if (request.ValidTo <= now) throw validation("ValidTo must be in the future");
  if (request.ValidTo > now + MAX_VALID_TO_MS) throw validation("ValidTo must be at most 365 days from now");
  return { model, validTo: request.ValidTo };
}

/**
 * The token must be one this emulator issued, for this key; an issued token past its 24 hours answers
 * ExpiredImportTokenException (checked last, so that a foreign token never learns it expired).
 */
function checkToken(context: OperationContext, key: KmsKey, token: Buffer): ImportParameters {
  const parameters = context.state.importParameters.get(token.toString("hex"));
  if (!parameters || parameters.keyId !== key.id || parameters.region !== key.region) {
    throw invalidImportToken(
      `The import token is invalid or was issued for a different KMS key than ${keyArn(key)}`,
    );
  }
  if (parameters.validTo <= context.now) {
    throw expiredImportToken("The import token has expired; call GetParametersForImport for a new one");
  }
  return parameters;
}

function unwrap(parameters: ImportParameters, encrypted: Buffer): Buffer {
  try {
    return unwrapAws({
      privateKey: parameters.privateKey,
      algorithm: parameters.algorithm,
      encryptedKeyMaterial: encrypted,
    });
  } catch {
    // Which stage failed (OAEP, KWP) would not help the caller more than this does.
    throw invalidCiphertext(
      `The encrypted key material could not be unwrapped with ${parameters.algorithm} under the wrapping key of this import token`,
    );
  }
}

const DeleteImportedKeyMaterialInput = z.object({
  KeyId: keyIdMember,
  KeyMaterialId: z.string().length(64).optional(),
});

/**
 * Without KeyMaterialId the current material goes. Deleting any permanently associated material (current
 * or not) makes the key PendingImport until that material is imported again; a key pending deletion keeps
 * its state (DeleteImportedKeyMaterial reference, developer guide "Delete imported key material").
 */
export function deleteImportedKeyMaterial(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(DeleteImportedKeyMaterialInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireImportable(key);
  const record =
    request.KeyMaterialId === undefined
      ? currentMaterial(key)
      : key.materials.find((candidate) => candidate.id === request.KeyMaterialId);
  if (request.KeyMaterialId !== undefined && !record) {
    throw notFound(`Key material ${request.KeyMaterialId} is not associated with ${keyArn(key)}`);
  }
  if (!record?.material) throw invalidState(stateMessage({ ...key, state: "PendingImport" }));
  deleteMaterial(key, record);
  return isSymmetric(key) ? { KeyId: keyArn(key), KeyMaterialId: record.id } : { KeyId: keyArn(key) };
}

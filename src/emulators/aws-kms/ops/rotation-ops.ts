import { randomBytes } from "node:crypto";
import { z } from "zod";
import { epochSeconds, type OperationContext, type OperationOutput } from "../context.js";
import { invalidState, limitExceeded, unsupported } from "../errors.js";
import { findKey, requireUsable } from "../key-lookup.js";
import { currentMaterial, isSymmetric, materialIdOf } from "../materials.js";
import { page } from "../paging.js";
import { type KeyMaterialRecord, type KmsKey, keyArn } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";

/**
 * RotateKeyOnDemand and ListKeyRotations, for symmetric encryption keys only (RotateKeyOnDemand reference).
 * With imported material the rotation makes the PENDING_ROTATION material CURRENT and the old one
 * NON_CURRENT (still decrypting); with AWS_KMS material the emulator makes new material. At most 25
 * on-demand rotations per key (a resource quota that cannot be raised). The real service rotates
 * asynchronously; here the rotation is complete when the answer arrives.
 */

export const MAX_ON_DEMAND_ROTATIONS = 25;

const KeyIdInput = z.object({ KeyId: keyIdMember });

function requireRotatable(key: KmsKey): void {
  if (!isSymmetric(key)) {
    throw unsupported(`${keyArn(key)} has KeySpec ${key.keySpec}: only symmetric encryption keys rotate`);
  }
}

/**
 * A multi-Region set rotates from its primary, and with imported material only once every replica holds the
 * new material too (RotateKeyOnDemand reference); the replicas rotate with it.
 */
export function rotateKeyOnDemand(input: unknown, context: OperationContext): OperationOutput {
  const key = findKey(context, parseInput(KeyIdInput, input).KeyId, { aliases: false });
  requireRotatable(key);
  if (key.multiRegion === "REPLICA") {
    throw unsupported(`${keyArn(key)} is a multi-Region replica key: rotate its primary key`);
  }
  requireUsable(key);
  if (key.onDemandRotations >= MAX_ON_DEMAND_ROTATIONS) {
    throw limitExceeded(
      `${keyArn(key)} has had the maximum of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations`,
    );
  }
  const next = key.origin === "EXTERNAL" ? pendingMaterial(key) : generatedMaterial(key);
  const replicas = context.state.relatedKeys(key);
  const lagging = replicas.filter((replica) => !replica.materials.some((record) => record.id === next.id));
  if (key.origin === "EXTERNAL" && lagging.length > 0) {
    throw invalidState(
      `${keyArn(key)} cannot rotate: import the new key material into its replica keys first (` +
        `${lagging.map((replica) => replica.region).join(", ")})`,
    );
  }
  for (const member of [key, ...replicas]) makeCurrent(member, next, context.now);
  return { KeyId: key.id };
}

function makeCurrent(key: KmsKey, next: KeyMaterialRecord, now: number): void {
  let record = key.materials.find((candidate) => candidate.id === next.id);
  if (!record) {
    // AWS_KMS material reaches the replicas through KMS itself.
    record = { ...next, material: next.material ? Buffer.from(next.material) : undefined };
    key.materials.push(record);
  }
  const current = currentMaterial(key);
  if (current && current !== record) current.state = "NON_CURRENT";
  record.state = "CURRENT";
  record.rotationDate = now;
  record.rotationType = "ON_DEMAND";
  key.onDemandRotations += 1;
}

function pendingMaterial(key: KmsKey): KeyMaterialRecord {
  const pending = key.materials.find((record) => record.state === "PENDING_ROTATION");
  if (!pending) {
    throw invalidState(
      `${keyArn(key)} has no key material in PENDING_ROTATION state: import new key material ` +
        "(ImportType NEW_KEY_MATERIAL) before rotating",
    );
  }
  return pending;
}

function generatedMaterial(key: KmsKey): KeyMaterialRecord {
  const material = randomBytes(32);
  const record: KeyMaterialRecord = {
    id: materialIdOf(key.id, material),
    material,
    state: "PENDING_ROTATION",
    description: undefined,
    expirationModel: undefined,
    validTo: undefined,
    rotationDate: undefined,
    rotationType: undefined,
  };
  key.materials.push(record);
  return record;
}

const ListKeyRotationsInput = z.object({
  KeyId: keyIdMember,
  IncludeKeyMaterial: z.enum(["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"]).optional(),
  Limit: z.number().int().min(1).max(1000).optional(),
  Marker: z.string().min(1).max(1024).optional(),
});

/**
 * ROTATIONS_ONLY (the default) lists the materials that rotations made current; ALL_KEY_MATERIAL adds the
 * first material and material pending rotation. Import details appear only for EXTERNAL keys.
 */
export function listKeyRotations(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ListKeyRotationsInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireRotatable(key);
  const all = request.IncludeKeyMaterial === "ALL_KEY_MATERIAL";
  const entries = key.materials
    .filter((record) => all || record.rotationDate !== undefined)
    .map((record) => rotationEntry(key, record));
  const { items, ...paging } = page(entries, request.Limit ?? 100, request.Marker);
  return { Rotations: items, ...paging };
}

function rotationEntry(key: KmsKey, record: KeyMaterialRecord): OperationOutput {
  const entry: OperationOutput = {
    KeyId: key.id,
    KeyMaterialId: record.id,
    KeyMaterialState: record.state,
  };
  if (key.origin === "EXTERNAL") {
    if (record.description !== undefined) entry.KeyMaterialDescription = record.description;
    entry.ImportState = record.material ? "IMPORTED" : "PENDING_IMPORT";
    if (record.expirationModel !== undefined) entry.ExpirationModel = record.expirationModel;
    if (record.validTo !== undefined) entry.ValidTo = epochSeconds(record.validTo);
  }
  if (record.rotationDate !== undefined) {
    entry.RotationDate = epochSeconds(record.rotationDate);
    entry.RotationType = record.rotationType;
  }
  return entry;
}

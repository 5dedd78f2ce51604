import { randomBytes, randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { z } from "zod";
import { generateKeyMaterial } from "../../../crypto/generate.js";
import type { OperationContext, OperationOutput } from "../context.js";
import { unsupported, validation } from "../errors.js";
import { findKey, requireState } from "../key-lookup.js";
import {
  ALL_KEY_SPECS,
  isSupportedKeySpec,
  KEY_SPEC_INFO,
  KEY_USAGES,
  SUPPORTED_KEY_SPECS,
  type SupportedKeySpec,
} from "../key-specs.js";
import { materialIdOf } from "../materials.js";
import { keyMetadata } from "../metadata.js";
import { page } from "../paging.js";
import { type KmsKey, keyArn, type Origin } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";
import { addTags, tagListMember } from "./tag-ops.js";

/** CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey. */

const randomBytesAsync = promisify(randomBytes);

const CreateKeyInput = z.object({
  // Accepted and not evaluated: the emulator has no IAM, every signed caller may do everything.
  Policy: z.string().min(1).max(32768).optional(),
  Description: z.string().max(8192).optional(),
  KeyUsage: z.enum(KEY_USAGES).optional(),
  CustomerMasterKeySpec: z.enum(ALL_KEY_SPECS).optional(),
  KeySpec: z.enum(ALL_KEY_SPECS).optional(),
  Origin: z.enum(["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"]).optional(),
  CustomKeyStoreId: z.string().min(1).max(64).optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  Tags: tagListMember.optional(),
  MultiRegion: z.boolean().optional(),
  XksKeyId: z.string().min(1).max(128).optional(),
});

export async function createKey(input: unknown, context: OperationContext): Promise<OperationOutput> {
  const request = parseInput(CreateKeyInput, input);
  const spec = chooseKeySpec(request.KeySpec, request.CustomerMasterKeySpec);
  const usage = chooseKeyUsage(spec, request.KeyUsage);
  const origin = request.Origin ?? "AWS_KMS";
  if (origin !== "AWS_KMS" && origin !== "EXTERNAL") {
    throw unsupported(`Origin ${origin} needs a custom key store, which this emulator does not provide`);
  }
  if (request.CustomKeyStoreId !== undefined || request.XksKeyId !== undefined) {
    throw unsupported("Custom key stores are not supported by this emulator");
  }
  const key: KmsKey = {
    // Multi-Region key ids are `mrk-` and 32 hex digits, shared by the primary and its replicas.
    id: request.MultiRegion ? `mrk-${randomBytes(16).toString("hex")}` : randomUUID(),
    region: context.region,
    accountId: context.accountId,
    createdAt: context.now,
    description: request.Description ?? "",
    keySpec: spec,
    keyUsage: usage,
    origin: origin satisfies Origin,
    state: origin === "EXTERNAL" ? "PendingImport" : "Enabled",
    deletionDate: undefined,
    pendingWindowInDays: undefined,
    tags: new Map(),
    materials: [],
    publicKey: undefined,
    onDemandRotations: 0,
    privateKeyObject: undefined,
    multiRegion: request.MultiRegion ? "PRIMARY" : undefined,
  };
  // Tags are checked before any CPU is spent on key generation.
  addTags(key, request.Tags ?? []);
  if (origin === "AWS_KMS") await generateFor(key);
  context.state.putKey(key);
  context.noteKey(key.id);
  return { KeyMetadata: keyMetadata(key, context.state) };
}

/** AWS_KMS origin: the service makes the material (on libuv's threadpool here: RSA takes a while). */
async function generateFor(key: KmsKey): Promise<void> {
  const info = KEY_SPEC_INFO[key.keySpec];
  const generated =
    info.family === "aes"
      ? { material: await randomBytesAsync(32), publicKey: undefined }
      : await generateKeyMaterial(info.keyType);
  key.publicKey = generated.publicKey;
  key.materials.push({
    id: materialIdOf(key.id, generated.material),
    material: generated.material,
    state: "CURRENT",
    description: undefined,
    expirationModel: undefined,
    validTo: undefined,
    rotationDate: undefined,
    rotationType: undefined,
  });
}

function chooseKeySpec(keySpec: string | undefined, legacySpec: string | undefined): SupportedKeySpec {
  if (keySpec !== undefined && legacySpec !== undefined && keySpec !== legacySpec) {
    throw validation("KeySpec and CustomerMasterKeySpec are the same parameter; give one of them");
  }
  const spec = keySpec ?? legacySpec ?? "SYMMETRIC_DEFAULT";
  if (!isSupportedKeySpec(spec)) {
    throw unsupported(
      `KeySpec ${spec} is not supported by this emulator (supported: ${SUPPORTED_KEY_SPECS.join(", ")})`,
    );
  }
  return spec;
}

/** Only symmetric encryption keys may omit KeyUsage; each spec allows its own usages. */
function chooseKeyUsage(spec: SupportedKeySpec, usage: (typeof KEY_USAGES)[number] | undefined) {
  const allowed = KEY_SPEC_INFO[spec].usages;
  if (usage === undefined) {
    if (spec === "SYMMETRIC_DEFAULT") return "ENCRYPT_DECRYPT";
    // The service's own wording (recorded by LocalStack's AWS-validated snapshots).
    throw validation(
      "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
  }
  if (!allowed.includes(usage)) {
    throw validation(`KeyUsage ${usage} is not compatible with KeySpec ${spec}; use ${allowed.join(" or ")}`);
  }
  return usage;
}

const KeyIdInput = z.object({ KeyId: keyIdMember, GrantTokens: z.array(z.string()).optional() });

export function describeKey(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(KeyIdInput, input);
  return {
    KeyMetadata: keyMetadata(findKey(context, request.KeyId, { aliases: true }), context.state),
  };
}

const ListKeysInput = z.object({
  Limit: z.number().int().min(1).max(1000).optional(),
  Marker: z.string().min(1).max(1024).optional(),
});

export function listKeys(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ListKeysInput, input);
  const keys = context.state.keysIn(context.region).map((key) => ({ KeyId: key.id, KeyArn: keyArn(key) }));
  const { items, ...paging } = page(keys, request.Limit ?? 100, request.Marker);
  return { Keys: items, ...paging };
}

export function enableKey(input: unknown, context: OperationContext): OperationOutput {
  const key = findKey(context, parseInput(KeyIdInput, input).KeyId, { aliases: false });
  requireState(key, ["Enabled", "Disabled"]);
  key.state = "Enabled";
  return {};
}

export function disableKey(input: unknown, context: OperationContext): OperationOutput {
  const key = findKey(context, parseInput(KeyIdInput, input).KeyId, { aliases: false });
  requireState(key, ["Enabled", "Disabled"]);
  key.state = "Disabled";
  return {};
}

import { randomBytes } from "node:crypto";
import { z } from "zod";
import { badParameter, keyDisabled, outsideValidity } from "../errors.js";
import type { KeyClass } from "../quotas.js";
import { isHsmType, type KeySecret, type KeyVaultKeyType, type KeyVersion } from "../state/model.js";

/** The parts of create, import and update bodies that describe a version rather than its material. */

/** Key Vault allows at most 15 tags per object. */
const MAX_TAGS = 15;

// The SDK leaves unset attributes out, other clients may send null: both mean "not given".
export const attributesSchema = z
  .object({
    enabled: z.boolean().nullish(),
    nbf: z.number().int().nullish(),
    exp: z.number().int().nullish(),
    exportable: z.boolean().nullish(),
  })
  .nullish();

export const tagsSchema = z.record(z.string(), z.string()).nullish();

export type AttributesInput = z.infer<typeof attributesSchema>;
export type TagsInput = z.infer<typeof tagsSchema>;

/** Exportable keys need a release policy (secure key release), which the emulator does not offer. */
export function refuseExport(attributes: AttributesInput, releasePolicy: unknown): void {
  if (attributes?.exportable || (releasePolicy !== undefined && releasePolicy !== null)) {
    throw badParameter("Exportable keys and release policies are not supported by this emulator.");
  }
}

export function checkTags(tags: TagsInput): Record<string, string> | undefined {
  if (!tags) return undefined;
  if (Object.keys(tags).length > MAX_TAGS) throw badParameter(`A key can have at most ${MAX_TAGS} tags.`);
  return { ...tags };
}

export function newVersion(input: {
  kty: KeyVaultKeyType;
  keyOps: string[];
  secret: KeySecret;
  attributes: AttributesInput;
  tags: Record<string, string> | undefined;
  nowSeconds: number;
}): KeyVersion {
  const { attributes } = input;
  return {
    // Key Vault's version ids are 32 lowercase hex digits.
    version: randomBytes(16).toString("hex"),
    kty: input.kty,
    keyOps: input.keyOps,
    enabled: attributes?.enabled ?? true,
    ...(attributes?.nbf != null ? { notBefore: attributes.nbf } : {}),
    ...(attributes?.exp != null ? { expires: attributes.exp } : {}),
    created: input.nowSeconds,
    updated: input.nowSeconds,
    ...(input.tags ? { tags: input.tags } : {}),
    secret: input.secret,
  };
}

/**
 * Refuse an operation on a version that may not be used now: disabled (403 KeyDisabled), not yet valid,
 * or expired. Expiry only stops new protection (encrypt, wrap, sign): data protected before must stay
 * recoverable, which is how the service's documentation describes `exp`.
 */
export function checkUsable(version: KeyVersion, operation: string, nowSeconds: number): void {
  if (!version.enabled) throw keyDisabled(operation);
  if (operation === "get") return;
  if (version.notBefore !== undefined && nowSeconds < version.notBefore) {
    throw outsideValidity(operation, "KeyNotYetValid");
  }
  const protects = operation === "encrypt" || operation === "wrapKey" || operation === "sign";
  if (protects && version.expires !== undefined && nowSeconds >= version.expires) {
    throw outsideValidity(operation, "KeyExpired");
  }
}

export function keyClassOf(version: KeyVersion | undefined): KeyClass | undefined {
  if (!version) return undefined;
  const { secret } = version;
  const hsm = isHsmType(version.kty);
  if (secret.family === "rsa") return { hsm, family: "rsa", bits: secret.bits };
  if (secret.family === "ec") return { hsm, family: "ec", curve: secret.curve };
  return { hsm, family: "oct" };
}

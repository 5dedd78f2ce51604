import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";
import { type KekInput, parseKekPublicKey } from "./kek.js";
import { checkRsaPrivateKey, rsaAesKeyUnwrap, rsaAesKeyWrap } from "./rsa-wrap.js";

/**
 * Azure Key Vault BYOK ("Bring your own key specification", Microsoft Learn): CKM_RSA_AES_KEY_WRAP with
 * RSA-OAEP SHA-1 (MGF1 SHA-1) under the vault's KEK, carried in a `.byok` JSON file whose bytes go into
 * the import request's `key_hsm`.
 */

export const BYOK_SCHEMA_VERSION = "1.0.0";
export const BYOK_ALG = "dir";
export const BYOK_ENC = "CKM_RSA_AES_KEY_WRAP";
/** Azure fixes the OAEP hash of this scheme to SHA-1; it is not a choice. */
const AZURE_OAEP_HASH = "sha1";

export interface WrapForAzureInput {
  /** RSA and EC: PKCS#8 DER; AES: 32 raw bytes. Not zeroed here: the caller owns it. */
  material: Uint8Array;
  /** The KEK's public key: PEM, DER SPKI or a parsed KeyObject. */
  kek: KekInput;
}

export interface BuildByokFileInput extends WrapForAzureInput {
  /** The KEK's full key identifier (`https://<vault>/keys/<name>/<version>`), the file's `header.kid`. */
  kekId: string;
  /** Defaults to "keyferry <package version>". */
  generator?: string;
}

export interface ByokFile {
  kid: string;
  /** RSA part || KWP part, decoded from base64url. */
  ciphertext: Buffer;
  generator: string;
}

export interface UnwrapAzureInput {
  kekPrivateKey: KeyObject;
  ciphertext: Uint8Array;
}

/** The raw BYOK ciphertext: OAEP-SHA-1(fresh AES-256 key) || RFC 5649 KWP(material). */
export function wrapForAzure(input: WrapForAzureInput): Buffer {
  if (!(input.material instanceof Uint8Array) || input.material.length === 0) {
    throw new InvalidInputError("invalid_key_material", "material must be non-empty bytes", {
      field: "material",
    });
  }
  return rsaAesKeyWrap(parseKekPublicKey(input.kek, "kek"), input.material, AZURE_OAEP_HASH);
}

/** The `.byok` file's bytes (UTF-8 JSON), ready for `importKey`'s `t` / the wire's `key_hsm`. */
export function buildByokFile(input: BuildByokFileInput): Buffer {
  if (typeof input.kekId !== "string" || input.kekId.trim() === "") {
    throw new InvalidInputError("invalid_kek_id", "kekId must be the KEK's key identifier", {
      field: "kekId",
    });
  }
  const generator = input.generator ?? defaultGenerator();
  const file = {
    schema_version: BYOK_SCHEMA_VERSION,
    header: { kid: input.kekId, alg: BYOK_ALG, enc: BYOK_ENC },
    ciphertext: wrapForAzure(input).toString("base64url"),
    generator,
  };
  return Buffer.from(JSON.stringify(file), "utf8");
}

// Other generators (vendor BYOK tools) may add fields, so unknown ones are ignored rather than refused.
const byokFileSchema = z.object({
  schema_version: z.literal(BYOK_SCHEMA_VERSION),
  header: z.object({
    kid: z.string().min(1),
    alg: z.literal(BYOK_ALG),
    enc: z.literal(BYOK_ENC),
  }),
  // base64url as the spec says; trailing padding is tolerated because some encoders add it.
  ciphertext: z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url"),
  generator: z.string(),
});

/** Validate a `.byok` file's shape and decode its ciphertext; InvalidInputError names the bad field. */
export function parseByokFile(bytes: Uint8Array | string): ByokFile {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new InvalidInputError("invalid_byok_file", "the .byok file is not JSON", { field: "byok" });
  }
  const result = byokFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join(".") : "byok";
    throw new InvalidInputError("invalid_byok_file", `.byok ${field}: ${issue?.message ?? "invalid"}`, {
      field,
    });
  }
  const { header, ciphertext, generator } = result.data;
  return { kid: header.kid, ciphertext: Buffer.from(ciphertext, "base64url"), generator };
}

/**
 * What Key Vault does with `key_hsm`, for the emulator: split at the KEK's modulus length and unwrap.
 * Throws CryptoError("unwrap_failed") when the ciphertext is not for this KEK or was altered.
 */
export function unwrapAzure(input: UnwrapAzureInput): Buffer {
  checkRsaPrivateKey(input.kekPrivateKey, "kekPrivateKey");
  if (!(input.ciphertext instanceof Uint8Array)) {
    throw new CryptoError("unwrap_failed", "ciphertext must be bytes");
  }
  return rsaAesKeyUnwrap(input.kekPrivateKey, input.ciphertext, AZURE_OAEP_HASH);
}

let generatorName: string | undefined;

/** Read once, lazily: package.json sits two levels up both from src/crypto and from the built dist/crypto. */
function defaultGenerator(): string {
  if (generatorName === undefined) {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    const { version } = z.object({ version: z.string() }).parse(JSON.parse(text));
    generatorName = `keyferry ${version}`;
  }
  return generatorName;
}

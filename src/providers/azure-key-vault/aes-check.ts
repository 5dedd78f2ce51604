import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyVaultKey } from "@azure/keyvault-keys";
import type { VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import type { AzureSession } from "./session.js";

/**
 * Proof that an AES version in a Managed HSM is ours, where there is no public key to compare: a random probe
 * goes through Azure one way and through keyferry's material the other way, using whichever operation the
 * key permits (encrypt, decrypt, wrapKey or unwrapKey: a key may hold only some of them). AES-GCM's tag and
 * RFC 3394's integrity check both fail for any other key. The probe is random and worthless; the material
 * is used only inside `withMaterial`.
 */

const GCM = "A256GCM";
const KW = "A256KW";
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const KW_IV = Buffer.from("A6A6A6A6A6A6A6A6", "hex");

export async function aesRoundTrip(
  session: AzureSession,
  name: string,
  key: KeyVaultKey,
  source: VersionSource,
): Promise<boolean> {
  const version = key.properties.version;
  if (!version)
    throw new ProviderError("transient", "IncompleteAnswer", "Azure returned a key without version");
  const crypto = session.clients.crypto(name, version);
  const ops = key.keyOperations ?? [];
  const probe = randomBytes(32);
  const fields = { name, version: source.version, ...(key.id ? { kid: key.id } : {}), idempotent: true };

  if (ops.includes("encrypt")) {
    const sealed = await session.call(
      "encrypt",
      (options) => crypto.encrypt({ algorithm: GCM, plaintext: probe }, options),
      fields,
    );
    return source.withMaterial(async (material) =>
      attempt(() => gcmOpen(material, sealed.result, sealed.iv, sealed.authenticationTag).equals(probe)),
    );
  }
  if (ops.includes("decrypt")) {
    const sealed = await source.withMaterial(async (material) => gcmSeal(material, probe));
    const opened = await session
      .call(
        "decrypt",
        (options) =>
          crypto.decrypt(
            { algorithm: GCM, ciphertext: sealed.ciphertext, iv: sealed.iv, authenticationTag: sealed.tag },
            options,
          ),
        fields,
      )
      .catch(failedCryptoAnswer);
    return opened !== undefined && Buffer.from(opened.result).equals(probe);
  }
  if (ops.includes("wrapKey")) {
    const wrapped = await session.call("wrapKey", (options) => crypto.wrapKey(KW, probe, options), fields);
    return source.withMaterial(async (material) =>
      attempt(() => keyUnwrap(material, wrapped.result).equals(probe)),
    );
  }
  if (ops.includes("unwrapKey")) {
    const wrapped = await source.withMaterial(async (material) => keyWrap(material, probe));
    const unwrapped = await session
      .call("unwrapKey", (options) => crypto.unwrapKey(KW, wrapped, options), fields)
      .catch(failedCryptoAnswer);
    return unwrapped !== undefined && Buffer.from(unwrapped.result).equals(probe);
  }
  throw new ProviderError(
    "permanent",
    "NoUsableOperation",
    `Azure key ${name} permits no AES operation to check`,
  );
}

/** Azure refuses to open what another key sealed with 400 BadParameter: that is a failed check, not an error. */
function failedCryptoAnswer(error: unknown): undefined {
  if (error instanceof ProviderError && error.details?.httpStatus === 400) return undefined;
  throw error;
}

function attempt(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function gcmSeal(key: Buffer, plaintext: Buffer): { ciphertext: Buffer; iv: Buffer; tag: Buffer } {
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, iv, tag: cipher.getAuthTag() };
}

function gcmOpen(
  key: Buffer,
  ciphertext: Uint8Array,
  iv: Uint8Array | undefined,
  tag: Uint8Array | undefined,
): Buffer {
  if (!iv || !tag) throw new Error("AES-GCM answer without iv or tag");
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function keyWrap(key: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv("id-aes256-wrap", key, KW_IV);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

function keyUnwrap(key: Buffer, wrapped: Uint8Array): Buffer {
  const decipher = createDecipheriv("id-aes256-wrap", key, KW_IV);
  return Buffer.concat([decipher.update(wrapped), decipher.final()]);
}

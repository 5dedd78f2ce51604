import { parseByokFile, unwrapAzure } from "../../../crypto/wrap-azure.js";
import { zero } from "../../../crypto/zero.js";
import { nowSeconds, type VaultContext } from "../context.js";
import { badParameter, KeyVaultError } from "../errors.js";
import type { KeySecret, KeyVaultKeyType, KeyVersion } from "../state/model.js";
import { checkUsable } from "./attributes.js";
import { familyOf, isKeyExchangeKey } from "./key-types.js";
import { octSecret, secretFromPkcs8 } from "./material.js";

/**
 * What Key Vault does with `key_hsm` ("Bring your own key specification", Microsoft Learn): the bytes are
 * a `.byok` JSON file whose header names the key exchange key; that KEK must be an RSA-HSM key of this vault
 * whose only operation is `import`. The ciphertext is split at the KEK's modulus length, the RSA part
 * OAEP-SHA-1-decrypted to an AES key, the rest RFC 5649-unwrapped to the target key: PKCS#8 for RSA and EC,
 * raw bytes for AES (Managed HSM only). Every refusal is a BadParameter naming the rule, never the bytes.
 */
export function unwrapByok(
  context: VaultContext,
  kty: KeyVaultKeyType,
  requestedCurve: string | undefined,
  keyHsm: Buffer,
): KeySecret {
  let file: ReturnType<typeof parseByokFile>;
  try {
    file = parseByokFile(keyHsm);
  } catch (error) {
    throw badParameter(`Property key_hsm is not a BYOK file: ${(error as Error).message}`);
  }
  const kek = findKeyExchangeKey(context, file.kid);
  if (kek.secret.family !== "rsa") throw notAKek(file.kid);

  let material: Buffer;
  try {
    material = unwrapAzure({ kekPrivateKey: kek.secret.privateKey, ciphertext: file.ciphertext });
  } catch {
    throw badParameter(
      `The BYOK ciphertext could not be unwrapped with the key exchange key ${file.kid}: ` +
        "it was made for another key or has been altered.",
    );
  }
  try {
    return targetSecret(kty, requestedCurve, material);
  } finally {
    zero(material);
  }
}

function findKeyExchangeKey(context: VaultContext, kid: string): KeyVersion {
  const path = kekPath(context.vaultUrl(), kid);
  let kek: KeyVersion;
  try {
    kek = context.state.activeVersion(path.name, path.version);
  } catch (error) {
    if (error instanceof KeyVaultError && error.status === 404) {
      throw badParameter(`The key exchange key ${kid} was not found in this vault.`);
    }
    throw error;
  }
  if (!isKeyExchangeKey(kek.kty, kek.keyOps)) throw notAKek(kid);
  checkUsable(kek, "import", nowSeconds(context));
  return kek;
}

/** `https://<this vault>/keys/<name>[/<version>]`; a KEK of another vault cannot be used. */
function kekPath(vaultUrl: string, kid: string): { name: string; version: string } {
  let url: URL;
  try {
    url = new URL(kid);
  } catch {
    throw badParameter("The BYOK file's header.kid is not a key identifier.");
  }
  if (url.origin !== new URL(vaultUrl).origin) {
    throw badParameter(
      `The key exchange key ${kid} is not in this vault: BYOK needs a KEK of the target vault.`,
    );
  }
  const segments = url.pathname.split("/");
  const [, collection, name, version, ...rest] = segments;
  if (collection !== "keys" || !name || rest.length > 0) {
    throw badParameter("The BYOK file's header.kid is not a key identifier.");
  }
  return { name, version: version ?? "" };
}

function targetSecret(kty: KeyVaultKeyType, requestedCurve: string | undefined, material: Buffer): KeySecret {
  const family = familyOf(kty);
  // The AES key is copied because the caller zeroes the unwrapped buffer.
  if (family === "oct") return octSecret(Buffer.from(material));
  const secret = secretFromPkcs8(material);
  if (secret.family !== family) {
    throw badParameter(`The key material is an ${secret.family.toUpperCase()} key, but kty is ${kty}.`);
  }
  if (secret.family === "ec" && requestedCurve !== undefined && requestedCurve !== secret.curve) {
    throw badParameter(`The key material is on ${secret.curve}, but crv is ${requestedCurve}.`);
  }
  return secret;
}

function notAKek(kid: string): KeyVaultError {
  return badParameter(
    `The key ${kid} cannot be used as a key exchange key: it must be an RSA-HSM key whose only key operation is "import".`,
  );
}

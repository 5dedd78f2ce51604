import { constants, createPublicKey, privateDecrypt, publicEncrypt } from "node:crypto";
import { z } from "zod";
import { oaepMaxPlaintextBytes } from "../../../crypto/rsa-wrap.js";
import type { OperationContext, OperationOutput } from "../context.js";
import { decryptSymmetric, encryptSymmetric, parseCiphertext } from "../crypto/symmetric-ciphertext.js";
import {
  incorrectKey,
  invalidCiphertext,
  invalidKeyUsage,
  invalidState,
  KmsError,
  unsupported,
  validation,
} from "../errors.js";
import { findKey, keyById, requireUsable } from "../key-lookup.js";
import {
  algorithmsFor,
  ENCRYPTION_ALGORITHMS,
  type EncryptionAlgorithm,
  KEY_SPEC_INFO,
} from "../key-specs.js";
import { currentMaterial, isSymmetric, privateKeyOf } from "../materials.js";
import { cryptoBucket } from "../quotas.js";
import { type KmsKey, keyArn } from "../state.js";
import { blob, keyIdMember, parseInput } from "../validation.js";

/**
 * Encrypt, Decrypt and GetPublicKey. Symmetric keys: the emulator's AES-256-GCM blob (symmetric-ciphertext.ts)
 * with the encryption context as additional data. RSA keys: RSAES_OAEP_SHA_1/SHA_256 of the plaintext, no
 * encryption context, at most k - 2 hLen - 2 bytes (the service's own message for larger plaintexts).
 */

const encryptionContext = z.record(z.string(), z.string()).optional();
const dryRun = z.boolean().optional();

/** What a request with DryRun set answers once every check has passed. */
export function dryRunAnswer(): KmsError {
  return new KmsError(
    "DryRunOperationException",
    "The request would have succeeded, but the DryRun option is set.",
  );
}

/** The common gate of cryptographic operations: the quota of the key's type, the key state, the key usage. */
export function useKey(
  context: OperationContext,
  key: KmsKey,
  usage: KmsKey["keyUsage"],
  operation: string,
): void {
  context.takeQuota(cryptoBucket(key));
  requireUsable(key);
  if (key.keyUsage !== usage) {
    throw invalidKeyUsage(`${keyArn(key)} key usage is ${key.keyUsage} which is not valid for ${operation}.`);
  }
}

function requireAlgorithm(key: KmsKey, algorithm: EncryptionAlgorithm): void {
  if (!KEY_SPEC_INFO[key.keySpec].encryptionAlgorithms.includes(algorithm)) {
    throw invalidKeyUsage(`${keyArn(key)} does not support encryption algorithm ${algorithm}.`);
  }
}

const oaepHash = (algorithm: EncryptionAlgorithm) => (algorithm === "RSAES_OAEP_SHA_1" ? "sha1" : "sha256");

const EncryptInput = z.object({
  KeyId: keyIdMember,
  Plaintext: blob(1, 4096),
  EncryptionContext: encryptionContext,
  GrantTokens: z.array(z.string()).optional(),
  EncryptionAlgorithm: z.enum(ENCRYPTION_ALGORITHMS).optional(),
  DryRun: dryRun,
});

export function encrypt(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(EncryptInput, input);
  const key = findKey(context, request.KeyId, { aliases: true });
  useKey(context, key, "ENCRYPT_DECRYPT", "Encrypt");
  const algorithm = request.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT";
  requireAlgorithm(key, algorithm);
  let ciphertext: Buffer;
  if (isSymmetric(key)) {
    const current = currentMaterial(key);
    if (!current?.material) throw invalidState(`${keyArn(key)} has no current key material.`);
    if (request.DryRun) throw dryRunAnswer();
    ciphertext = encryptSymmetric(
      key.id,
      current.id,
      current.material,
      request.Plaintext,
      request.EncryptionContext ?? {},
    );
  } else {
    if (request.EncryptionContext !== undefined) {
      throw validation("EncryptionContext is not supported with asymmetric KMS keys");
    }
    const publicKey = createPublicKey({ key: key.publicKey ?? Buffer.alloc(0), format: "der", type: "spki" });
    const limit = oaepMaxPlaintextBytes(
      Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8),
      oaepHash(algorithm),
    );
    if (request.Plaintext.length > limit) {
      throw validation(
        `Algorithm ${algorithm} and key spec ${key.keySpec} cannot encrypt data larger than ${limit} bytes.`,
      );
    }
    if (request.DryRun) throw dryRunAnswer();
    ciphertext = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(algorithm) },
      request.Plaintext,
    );
  }
  return {
    CiphertextBlob: ciphertext.toString("base64"),
    KeyId: keyArn(key),
    EncryptionAlgorithm: algorithm,
  };
}

const DecryptInput = z.object({
  CiphertextBlob: blob(1, 6144),
  EncryptionContext: encryptionContext,
  GrantTokens: z.array(z.string()).optional(),
  KeyId: keyIdMember.optional(),
  EncryptionAlgorithm: z.enum(ENCRYPTION_ALGORITHMS).optional(),
  Recipient: z.unknown().optional(),
  DryRun: dryRun,
  DryRunModifiers: z.array(z.string()).optional(),
});

type DecryptRequest = z.output<typeof DecryptInput>;

export function decrypt(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(DecryptInput, input);
  if (request.Recipient !== undefined)
    throw unsupported("Recipient (Nitro Enclaves attestation) is not supported by this emulator");
  const named = request.KeyId === undefined ? undefined : findKey(context, request.KeyId, { aliases: true });
  const algorithm = request.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT";
  if (algorithm === "SYMMETRIC_DEFAULT" && (named === undefined || isSymmetric(named))) {
    return decryptWithSymmetricKey(context, request, named);
  }
  if (!named) throw validation(`KeyId is required to decrypt with ${algorithm}`);
  useKey(context, named, "ENCRYPT_DECRYPT", "Decrypt");
  requireAlgorithm(named, algorithm);
  if (request.EncryptionContext !== undefined) {
    throw validation("EncryptionContext is not supported with asymmetric KMS keys");
  }
  if (request.DryRun) throw dryRunAnswer();
  let plaintext: Buffer;
  try {
    plaintext = privateDecrypt(
      { key: privateKeyOf(named), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(algorithm) },
      request.CiphertextBlob,
    );
  } catch {
    throw invalidCiphertext("The ciphertext could not be decrypted with this key and algorithm.");
  }
  return { KeyId: keyArn(named), Plaintext: plaintext.toString("base64"), EncryptionAlgorithm: algorithm };
}

/**
 * The blob names its key and material. A KeyId in the request must be that key (IncorrectKeyException);
 * material deleted or never known cannot decrypt (and deleting permanent material leaves the key pending
 * import, which useKey refuses first).
 */
function decryptWithSymmetricKey(
  context: OperationContext,
  request: DecryptRequest,
  named: KmsKey | undefined,
): OperationOutput {
  const parsed = parseCiphertext(request.CiphertextBlob);
  if (!parsed) throw invalidCiphertext("The ciphertext is not valid.");
  const key = keyById(context, parsed.keyId);
  if (named && named.id !== key.id) {
    throw incorrectKey(
      "The key ID in the request does not identify the KMS key that encrypted the ciphertext.",
    );
  }
  useKey(context, key, "ENCRYPT_DECRYPT", "Decrypt");
  const record = key.materials.find((candidate) => candidate.id === parsed.materialId);
  if (!record?.material)
    throw invalidCiphertext("The key material that encrypted this ciphertext is not available.");
  if (request.DryRun) throw dryRunAnswer();
  const plaintext = decryptSymmetric(parsed, record.material, request.EncryptionContext ?? {});
  if (!plaintext) throw invalidCiphertext("The ciphertext or its encryption context is not valid.");
  return {
    KeyId: keyArn(key),
    Plaintext: plaintext.toString("base64"),
    EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    KeyMaterialId: record.id,
  };
}

const GetPublicKeyInput = z.object({ KeyId: keyIdMember, GrantTokens: z.array(z.string()).optional() });

export function getPublicKey(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(GetPublicKeyInput, input);
  const key = findKey(context, request.KeyId, { aliases: true });
  if (isSymmetric(key)) throw unsupported(`${keyArn(key)} is a symmetric key: it has no public key.`);
  requireUsable(key);
  return {
    KeyId: keyArn(key),
    PublicKey: (key.publicKey ?? Buffer.alloc(0)).toString("base64"),
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    KeyUsage: key.keyUsage,
    ...algorithmsFor(key.keySpec, key.keyUsage),
  };
}

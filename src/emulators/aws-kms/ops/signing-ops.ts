import { createPublicKey } from "node:crypto";
import { z } from "zod";
import type { OperationContext, OperationOutput } from "../context.js";
import { digestLength, signMessage, verifyMessage } from "../crypto/signatures.js";
import { invalidKeyUsage, invalidSignature, validation } from "../errors.js";
import { findKey } from "../key-lookup.js";
import { KEY_SPEC_INFO, SIGNING_ALGORITHMS, type SigningAlgorithm } from "../key-specs.js";
import { privateKeyOf } from "../materials.js";
import { type KmsKey, keyArn } from "../state.js";
import { blob, keyIdMember, parseInput } from "../validation.js";
import { dryRunAnswer, useKey } from "./crypto-ops.js";

/**
 * Sign and Verify. MessageType RAW (the default) has KMS hash the message; DIGEST takes a digest of exactly
 * the algorithm's hash length ("Digest is invalid length for algorithm ...", the service's wording). A
 * signature that does not verify is KMSInvalidSignatureException, not SignatureValid false (Verify reference).
 */

const common = {
  KeyId: keyIdMember,
  Message: blob(1, 4096),
  MessageType: z.enum(["RAW", "DIGEST", "EXTERNAL_MU"]).optional(),
  GrantTokens: z.array(z.string()).optional(),
  SigningAlgorithm: z.enum(SIGNING_ALGORITHMS),
  DryRun: z.boolean().optional(),
};

const SignInput = z.object(common);
const VerifyInput = z.object({ ...common, Signature: blob(1, 6144) });

function prepare(
  context: OperationContext,
  request: z.output<typeof SignInput>,
  operation: string,
): { key: KmsKey; algorithm: SigningAlgorithm; type: "RAW" | "DIGEST" } {
  const key = findKey(context, request.KeyId, { aliases: true });
  useKey(context, key, "SIGN_VERIFY", operation);
  const algorithm = request.SigningAlgorithm;
  if (!KEY_SPEC_INFO[key.keySpec].signingAlgorithms.includes(algorithm)) {
    throw invalidKeyUsage(`${keyArn(key)} does not support signing algorithm ${algorithm}.`);
  }
  const type = request.MessageType ?? "RAW";
  if (type === "EXTERNAL_MU") throw validation("MessageType EXTERNAL_MU is only valid with ML-DSA keys.");
  if (type === "DIGEST" && request.Message.length !== digestLength(algorithm)) {
    throw validation(`Digest is invalid length for algorithm ${algorithm}.`);
  }
  if (request.DryRun) throw dryRunAnswer();
  return { key, algorithm, type };
}

export function signOperation(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(SignInput, input);
  const { key, algorithm, type } = prepare(context, request, "Sign");
  const signature = signMessage(privateKeyOf(key), algorithm, request.Message, type);
  return { KeyId: keyArn(key), Signature: signature.toString("base64"), SigningAlgorithm: algorithm };
}

export function verifyOperation(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(VerifyInput, input);
  const { key, algorithm, type } = prepare(context, request, "Verify");
  const publicKey = createPublicKey({ key: key.publicKey ?? Buffer.alloc(0), format: "der", type: "spki" });
  if (!verifyMessage(publicKey, algorithm, request.Message, type, request.Signature))
    throw invalidSignature();
  return { KeyId: keyArn(key), SignatureValid: true, SigningAlgorithm: algorithm };
}

import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { z } from "zod";
import {
  AWS_WRAPPING_ALGORITHMS,
  AWS_WRAPPING_RULES,
  isAwsWrappingAlgorithm,
} from "../../../crypto/wrap-aws.js";
import { epochSeconds, type OperationContext, type OperationOutput } from "../context.js";
import { notFound, unsupported } from "../errors.js";
import { findKey, requireState } from "../key-lookup.js";
import { KEY_SPEC_INFO } from "../key-specs.js";
import { type KmsKey, keyArn } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";

/**
 * GetParametersForImport: a fresh RSA wrapping key pair and an import token, valid 24 hours, bound to the
 * key and to the wrapping algorithm and key spec asked for (GetParametersForImport reference). The token is
 * opaque random bytes that index the stored parameters, so it can be neither forged nor moved to another
 * key. Combinations the service refuses are refused here, before any key pair is generated:
 * - RSAES_PKCS1_V1_5: not accepted since 2023-10-10;
 * - SM2 and SM2PKE: China Regions only;
 * - a wrapping algorithm that cannot carry this key's material (AWS_WRAPPING_RULES: RSA private keys only
 *   under RSA_AES_KEY_WRAP_*, symmetric material only under RSAES_OAEP_*);
 * - ECC_NIST_P521 material under RSAES_OAEP_* with an RSA_2048 wrapping key.
 */

const randomBytesAsync = promisify(randomBytes);

export const IMPORT_PARAMETERS_LIFETIME_MS = 24 * 3600 * 1000;
const TOKEN_VERSION = 0x01;
const TOKEN_RANDOM_BYTES = 48;

const WRAPPING_KEY_BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;

const GetParametersForImportInput = z.object({
  KeyId: keyIdMember,
  WrappingAlgorithm: z.enum([
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
  ]),
  WrappingKeySpec: z.enum(["RSA_2048", "RSA_3072", "RSA_4096", "SM2"]),
});

type Request = z.output<typeof GetParametersForImportInput>;

export async function getParametersForImport(
  input: unknown,
  context: OperationContext,
): Promise<OperationOutput> {
  const request = parseInput(GetParametersForImportInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireImportable(key);
  requireState(key, ["Enabled", "Disabled", "PendingImport"]);
  const { algorithm, wrappingKeySpec } = checkCombination(key, request);

  const pair = await context.wrappingKeyPair(WRAPPING_KEY_BITS[wrappingKeySpec]);
  const token = Buffer.concat([Buffer.of(TOKEN_VERSION), await randomBytesAsync(TOKEN_RANDOM_BYTES)]);
  // The key may have reached the end of its deletion window while the pair was being generated.
  if (context.state.getKey(key.region, key.id) !== key) throw notFound(`Key '${keyArn(key)}' does not exist`);
  const validTo = context.now + IMPORT_PARAMETERS_LIFETIME_MS;
  context.state.importParameters.set(token.toString("hex"), {
    keyId: key.id,
    region: key.region,
    algorithm,
    wrappingKeySpec,
    privateKey: pair.privateKey,
    validTo,
  });
  return {
    KeyId: keyArn(key),
    ImportToken: token.toString("base64"),
    PublicKey: pair.publicKey.export({ type: "spki", format: "der" }).toString("base64"),
    ParametersValidTo: epochSeconds(validTo),
  };
}

/** Import operations exist only for keys created for imported material. */
export function requireImportable(key: KmsKey): void {
  if (key.origin !== "EXTERNAL") {
    throw unsupported(`${keyArn(key)} origin is ${key.origin} which is not valid for this operation.`);
  }
}

function checkCombination(key: KmsKey, request: Request) {
  const { WrappingAlgorithm: algorithm, WrappingKeySpec: wrappingKeySpec } = request;
  if (algorithm === "RSAES_PKCS1_V1_5") {
    throw unsupported("RSAES_PKCS1_V1_5 is not supported: KMS stopped accepting it on 2023-10-10");
  }
  if (algorithm === "SM2PKE" || wrappingKeySpec === "SM2") {
    throw unsupported("SM2 wrapping is available in China Regions only");
  }
  if (!isAwsWrappingAlgorithm(algorithm)) throw unsupported(`${algorithm} is not supported`);
  const family = KEY_SPEC_INFO[key.keySpec].family;
  if (!AWS_WRAPPING_RULES[algorithm].families.includes(family)) {
    // SHA-256 first: AWS_WRAPPING_ALGORITHMS lists the preferred variants first.
    const fitting = AWS_WRAPPING_ALGORITHMS.filter((name) =>
      AWS_WRAPPING_RULES[name].families.includes(family),
    );
    throw unsupported(`${algorithm} cannot wrap ${key.keySpec} key material; use ${fitting.join(" or ")}`);
  }
  if (
    key.keySpec === "ECC_NIST_P521" &&
    wrappingKeySpec === "RSA_2048" &&
    AWS_WRAPPING_RULES[algorithm].scheme === "oaep"
  ) {
    throw unsupported(
      `${algorithm} with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material; ` +
        "use RSA_3072, RSA_4096 or an RSA_AES_KEY_WRAP_* algorithm",
    );
  }
  return { algorithm, wrappingKeySpec };
}

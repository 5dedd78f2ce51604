import { z } from "zod";
import { nowSeconds, type VaultContext } from "../context.js";
import { type CryptoOperation, performCryptoOperation } from "../crypto/key-operations.js";
import { operationNotPermitted } from "../errors.js";
import { checkUsable, keyClassOf } from "../keys/attributes.js";
import { keyId } from "../keys/bundle.js";
import { runOperation } from "../operation.js";
import { decodeBytes, encodeBytes, keyName, keyVersion, optionalBytes, parseBody } from "../request.js";
import type { RouteHandler } from "./route-types.js";

/**
 * POST /keys/{name}/{version}/{encrypt|decrypt|wrapkey|unwrapkey|sign|verify} — CryptographyClient's remote
 * operations (an empty version is the latest). Bodies: keyOperationsParametersSerializer {alg, value, iv,
 * aad, tag}, keySignParametersSerializer {alg, value = digest}, keyVerifyParametersSerializer {alg, digest,
 * value = signature}. Answers: {kid, value[, iv, tag, aad]} or, for verify, {value: boolean}.
 */
const operationBody = z.object({
  alg: z.string(),
  value: z.string(),
  digest: z.string().nullish(),
  iv: z.string().nullish(),
  aad: z.string().nullish(),
  tag: z.string().nullish(),
});

export function keyOperation(context: VaultContext, operation: CryptoOperation): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    const version = keyVersion(request.params.version);
    const body = parseBody(operationBody, request.body);
    const value = decodeBytes(body.value, "value");
    const digest = optionalBytes(body.digest, "digest");
    const iv = optionalBytes(body.iv, "iv");
    const aad = optionalBytes(body.aad, "aad");
    const tag = optionalBytes(body.tag, "tag");

    return runOperation(context, request, reply, {
      name: operation,
      mutating: false,
      quota: operation,
      keyClass: keyClassOf(context.state.peekVersion(name, version)),
      keyName: name,
      run: () => {
        const found = context.state.activeVersion(name, version);
        checkUsable(found, operation, nowSeconds(context));
        if (!found.keyOps.includes(operation)) throw operationNotPermitted(operation);
        const output = performCryptoOperation(operation, found.secret, {
          algorithm: body.alg,
          value,
          ...(digest ? { digest } : {}),
          ...(iv ? { iv } : {}),
          ...(aad ? { aad } : {}),
          ...(tag ? { tag } : {}),
        });
        if (output.kind === "verified") return { value: output.value };
        return {
          kid: keyId(context.vaultUrl(), name, found.version),
          value: encodeBytes(output.value),
          ...(output.iv ? { iv: encodeBytes(output.iv) } : {}),
          ...(output.tag ? { tag: encodeBytes(output.tag) } : {}),
          ...(output.aad ? { aad: encodeBytes(output.aad) } : {}),
        };
      },
    });
  };
}

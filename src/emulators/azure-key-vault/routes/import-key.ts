import { z } from "zod";
import { nowSeconds, type VaultContext } from "../context.js";
import { badParameter } from "../errors.js";
import { attributesSchema, checkTags, newVersion, refuseExport, tagsSchema } from "../keys/attributes.js";
import { keyBundle } from "../keys/bundle.js";
import { unwrapByok } from "../keys/byok-import.js";
import { secretFromJwk } from "../keys/jwk-import.js";
import { familyOf, IMPORT_OP, parseKeyType, resolveKeyOps } from "../keys/key-types.js";
import { runOperation } from "../operation.js";
import { decodeBytes, keyName, parseBody } from "../request.js";
import { isHsmType } from "../state/model.js";
import type { RouteHandler } from "./route-types.js";

/**
 * PUT /keys/{name} — KeyClient.importKey: a new key, or a new version of an existing one. Body
 * (keyImportParametersSerializer): `Hsm`, `key` (a JWK: private parts in the clear, or `key_hsm` carrying
 * the bytes of a `.byok` file, the SDK's `t`), attributes, tags, release_policy.
 */
const jwkString = z.string().nullish();
const importBody = z.object({
  Hsm: z.boolean().nullish(),
  key: z.object({
    kty: z.string(),
    key_ops: z.array(z.string()).nullish(),
    n: jwkString,
    e: jwkString,
    d: jwkString,
    dp: jwkString,
    dq: jwkString,
    qi: jwkString,
    p: jwkString,
    q: jwkString,
    k: jwkString,
    key_hsm: jwkString,
    crv: jwkString,
    x: jwkString,
    y: jwkString,
  }),
  attributes: attributesSchema,
  tags: tagsSchema,
  release_policy: z.unknown().optional(),
});

export function importKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    const body = parseBody(importBody, request.body);
    const { key } = body;
    // `Hsm: true` with a software type means "import these clear parts into the HSM".
    const requested = body.Hsm && !key.kty.endsWith("-HSM") ? `${key.kty}-HSM` : key.kty;
    const kty = parseKeyType(requested, context.managedHsm);
    if (key.key_hsm && !isHsmType(kty)) throw badParameter("Property key.key_hsm requires an HSM key type.");
    const keyOps = resolveKeyOps(kty, key.key_ops ?? undefined);
    if (keyOps.includes(IMPORT_OP)) {
      throw badParameter("A key exchange key must be created in the vault, not imported.");
    }
    const tags = checkTags(body.tags);
    refuseExport(body.attributes, body.release_policy);

    return runOperation(context, request, reply, {
      name: "importKey",
      mutating: true,
      // Import counts as CREATE (see quotas.ts).
      quota: "create",
      keyClass: { hsm: isHsmType(kty), family: familyOf(kty) },
      keyName: name,
      run: () => {
        context.state.checkNameUsable(name);
        const secret = key.key_hsm
          ? unwrapByok(context, kty, key.crv ?? undefined, decodeBytes(key.key_hsm, "key.key_hsm"))
          : secretFromJwk(familyOf(kty), key);
        if (secret.family === "ec" && key.crv && key.crv !== secret.curve) {
          throw badParameter(`The key is on ${secret.curve}, but crv is ${key.crv}.`);
        }
        const version = newVersion({
          kty,
          keyOps,
          secret,
          attributes: body.attributes,
          tags,
          nowSeconds: nowSeconds(context),
        });
        context.state.addVersion(name, version);
        return keyBundle(context.vaultUrl(), name, version);
      },
    });
  };
}

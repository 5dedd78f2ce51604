import { z } from "zod";
import { nowSeconds, type VaultContext } from "../context.js";
import { badParameter } from "../errors.js";
import { attributesSchema, checkTags, keyClassOf, refuseExport, tagsSchema } from "../keys/attributes.js";
import { keyBundle } from "../keys/bundle.js";
import { IMPORT_OP, isKeyExchangeKey, resolveKeyOps } from "../keys/key-types.js";
import { runOperation } from "../operation.js";
import { keyName, keyVersion, parseBody } from "../request.js";
import type { KeyVersion } from "../state/model.js";
import type { RouteHandler } from "./route-types.js";

/**
 * PATCH /keys/{name}/{version} — KeyClient.updateKeyProperties (the latest version when the SDK is given no
 * version: `/keys/{name}/`). Body (keyUpdateParametersSerializer): key_ops, attributes {enabled, nbf, exp},
 * tags (replacing all tags), release_policy. Works on disabled versions: that is how they are re-enabled.
 */
const updateBody = z.object({
  key_ops: z.array(z.string()).nullish(),
  attributes: attributesSchema,
  tags: tagsSchema,
  release_policy: z.unknown().optional(),
});

export function updateKeyProperties(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    const version = keyVersion(request.params.version);
    const body = parseBody(updateBody, request.body);
    refuseExport(body.attributes, body.release_policy);
    const tags = checkTags(body.tags);

    return runOperation(context, request, reply, {
      name: "updateKeyProperties",
      mutating: true,
      quota: "update",
      keyClass: keyClassOf(context.state.peekVersion(name, version)),
      keyName: name,
      run: () => {
        const found = context.state.activeVersion(name, version);
        // Validate everything before changing anything: a refused update leaves the version as it was.
        const keyOps = body.key_ops ? updatedKeyOps(found, body.key_ops) : found.keyOps;
        const { attributes } = body;
        found.keyOps = keyOps;
        if (attributes?.enabled != null) found.enabled = attributes.enabled;
        if (attributes?.nbf != null) found.notBefore = attributes.nbf;
        if (attributes?.exp != null) found.expires = attributes.exp;
        if (body.tags != null) {
          if (tags && Object.keys(tags).length > 0) found.tags = tags;
          else delete found.tags;
        }
        found.updated = nowSeconds(context);
        return keyBundle(context.vaultUrl(), name, found);
      },
    });
  };
}

/** A key exchange key's `import` is fixed for its lifetime, and no other key can become one. */
function updatedKeyOps(version: KeyVersion, requested: string[]): string[] {
  const keyOps = resolveKeyOps(version.kty, requested);
  const wasKek = isKeyExchangeKey(version.kty, version.keyOps);
  if (wasKek !== keyOps.includes(IMPORT_OP)) {
    throw badParameter('The key operation "import" can only be set when a key exchange key is created.');
  }
  return keyOps;
}

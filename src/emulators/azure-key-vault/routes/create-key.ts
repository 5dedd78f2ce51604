import { z } from "zod";
import { nowSeconds, type VaultContext } from "../context.js";
import { badParameter } from "../errors.js";
import { attributesSchema, checkTags, newVersion, refuseExport, tagsSchema } from "../keys/attributes.js";
import { keyBundle } from "../keys/bundle.js";
import { CURVES, familyOf, parseKeyType, resolveKeyOps } from "../keys/key-types.js";
import { generateSecret } from "../keys/material.js";
import { runOperation } from "../operation.js";
import { keyName, parseBody } from "../request.js";
import { type CurveName, isHsmType } from "../state/model.js";
import type { RouteHandler } from "./route-types.js";

/**
 * POST /keys/{name}/create — KeyClient.createKey (and createRsaKey, createEcKey, createOctKey). A new name
 * makes a key, an existing one a new version. Body (keyCreateParametersSerializer): kty, key_size,
 * public_exponent, key_ops, attributes, tags, crv, release_policy.
 */
const createBody = z.object({
  kty: z.string(),
  key_size: z.number().int().nullish(),
  public_exponent: z.number().int().nullish(),
  key_ops: z.array(z.string()).nullish(),
  attributes: attributesSchema,
  tags: tagsSchema,
  crv: z.string().nullish(),
  release_policy: z.unknown().optional(),
});

/** The only public exponent the emulator generates (and the only one worth using). */
const PUBLIC_EXPONENT = 65537;

export function createKey(context: VaultContext): RouteHandler {
  return async (request, reply) => {
    const name = keyName(request.params.name);
    const body = parseBody(createBody, request.body);
    const kty = parseKeyType(body.kty, context.managedHsm);
    const family = familyOf(kty);
    const curve = parseCurve(body.crv, family === "ec");
    if (body.public_exponent != null && body.public_exponent !== PUBLIC_EXPONENT) {
      throw badParameter(`Property public_exponent must be ${PUBLIC_EXPONENT}.`);
    }
    if (family === "ec" && body.key_size != null) throw badParameter("EC keys take crv, not key_size.");
    const keyOps = resolveKeyOps(kty, body.key_ops ?? undefined);
    const tags = checkTags(body.tags);
    refuseExport(body.attributes, body.release_policy);

    return runOperation(context, request, reply, {
      name: "createKey",
      mutating: true,
      quota: "create",
      keyClass: { hsm: isHsmType(kty), family, bits: body.key_size ?? 2048, ...(curve ? { curve } : {}) },
      keyName: name,
      run: async () => {
        // Refused before generating: an RSA-4096 generation takes seconds of CPU.
        context.state.checkNameUsable(name);
        const secret = await generateSecret(family, body.key_size ?? undefined, curve);
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

function parseCurve(crv: string | null | undefined, isEc: boolean): CurveName | undefined {
  if (crv == null) return isEc ? "P-256" : undefined;
  if (!isEc) throw badParameter("Property crv is only valid for EC keys.");
  if (!(CURVES as readonly string[]).includes(crv)) {
    throw badParameter(`The curve "${crv}" is not supported. Supported curves are ${CURVES.join(", ")}.`);
  }
  return crv as CurveName;
}

import { createPrivateKey, type KeyObject } from "node:crypto";
import { badParameter } from "../errors.js";
import { decodeBytes } from "../request.js";
import type { KeySecret } from "../state/model.js";
import { CURVES, type KeyFamily } from "./key-types.js";
import { octSecret, secretFromKeyObject } from "./material.js";

/** Import of a key given in the clear as JWK private parts (software keys, or HSM keys imported from memory). */

export type JwkFields = Partial<
  Record<"n" | "e" | "d" | "dp" | "dq" | "qi" | "p" | "q" | "k" | "crv" | "x" | "y", string | null>
>;

const RSA_PARTS = ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;
const EC_PARTS = ["x", "y", "d"] as const;

export function secretFromJwk(family: KeyFamily, jwk: JwkFields): KeySecret {
  if (family === "oct") {
    if (!jwk.k) throw badParameter("Property key.k is required to import an AES key.");
    return octSecret(decodeBytes(jwk.k, "key.k"));
  }
  const parts = family === "rsa" ? RSA_PARTS : EC_PARTS;
  const fields: Record<string, string> = { kty: family === "rsa" ? "RSA" : "EC" };
  for (const part of parts) {
    const value = jwk[part];
    if (!value) throw badParameter(`Property key.${part} is required to import this key.`);
    // Node reads base64url only; the service also takes standard base64.
    fields[part] = decodeBytes(value, `key.${part}`).toString("base64url");
  }
  if (family === "ec") {
    if (!jwk.crv || !(CURVES as readonly string[]).includes(jwk.crv)) {
      throw badParameter(`Property key.crv must be one of ${CURVES.join(", ")}.`);
    }
    fields.crv = jwk.crv;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: fields, format: "jwk" });
  } catch {
    throw badParameter(
      `${family === "rsa" ? "RSA" : "EC"} key is not valid - cannot instantiate crypto service.`,
    );
  }
  return secretFromKeyObject(key);
}

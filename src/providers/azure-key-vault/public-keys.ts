import { createPublicKey, type KeyObject } from "node:crypto";
import type { JsonWebKey } from "@azure/keyvault-keys";
import { ProviderError } from "../provider-error.js";

/**
 * Public keys as Key Vault returns them (JWK with byte fields) compared with keyferry's DER SPKI: the proof
 * that a copy holds our material (SPEC section 4, "the public key Azure returns equals ours").
 */

export function publicKeyFromJwk(jwk: JsonWebKey): KeyObject {
  const b64u = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("base64url");
  try {
    if (jwk.kty === "RSA" || jwk.kty === "RSA-HSM") {
      return createPublicKey({ key: { kty: "RSA", n: b64u(jwk.n), e: b64u(jwk.e) }, format: "jwk" });
    }
    if (jwk.kty === "EC" || jwk.kty === "EC-HSM") {
      const key = { kty: "EC", crv: jwk.crv ?? "", x: b64u(jwk.x), y: b64u(jwk.y) };
      return createPublicKey({ key, format: "jwk" });
    }
  } catch (error) {
    throw new ProviderError(
      "permanent",
      "InvalidPublicKey",
      "Azure Key Vault returned an unreadable public key",
      {
        cause: error,
      },
    );
  }
  throw new ProviderError(
    "permanent",
    "NoPublicKey",
    `Azure key type ${jwk.kty ?? "unknown"} has no public key`,
  );
}

/** Whether the JWK's public key is exactly `expected` (DER SPKI). */
export function samePublicKey(jwk: JsonWebKey, expected: Buffer): boolean {
  return publicKeyFromJwk(jwk).export({ type: "spki", format: "der" }).equals(expected);
}

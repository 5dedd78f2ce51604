import type { KeyObject } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";

/**
 * ECDSA over a digest the caller already computed (AWS Sign with MessageType DIGEST, Azure's sign, which
 * always takes a digest). Node's crypto hashes whatever it signs, so the signing itself is left to
 * @noble/curves with `prehash: false`. Signatures come as DER (AWS) or as raw R || S (JWA, Azure).
 * Low-S is not required: OpenSSL and the clouds produce both halves of the S range.
 */
const CURVES = { prime256v1: p256, secp384r1: p384, secp521r1: p521 } as const;

export type EcdsaSignatureFormat = "der" | "raw";

function curveOf(key: KeyObject) {
  const name = key.asymmetricKeyDetails?.namedCurve;
  const curve = name === undefined ? undefined : CURVES[name as keyof typeof CURVES];
  if (key.asymmetricKeyType !== "ec" || !curve)
    throw new Error(`unsupported EC key (curve ${name ?? "none"})`);
  return curve;
}

const fromBase64url = (value: string | undefined) => Buffer.from(value ?? "", "base64url");

export function ecdsaSignDigest(
  privateKey: KeyObject,
  digest: Uint8Array,
  format: EcdsaSignatureFormat,
): Buffer {
  const curve = curveOf(privateKey);
  const secret = fromBase64url(privateKey.export({ format: "jwk" }).d);
  try {
    const signature = curve.sign(digest, secret, {
      prehash: false,
      lowS: false,
      format: format === "der" ? "der" : "compact",
    });
    return Buffer.from(signature);
  } finally {
    secret.fill(0);
  }
}

export function ecdsaVerifyDigest(
  publicKey: KeyObject,
  digest: Uint8Array,
  signature: Uint8Array,
  format: EcdsaSignatureFormat,
): boolean {
  const curve = curveOf(publicKey);
  const jwk = publicKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.of(0x04), fromBase64url(jwk.x), fromBase64url(jwk.y)]);
  try {
    return curve.verify(signature, digest, point, {
      prehash: false,
      lowS: false,
      format: format === "der" ? "der" : "compact",
    });
  } catch {
    // Malformed signatures are invalid signatures, not server errors.
    return false;
  }
}

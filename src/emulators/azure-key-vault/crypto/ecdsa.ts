import type { KeyObject } from "node:crypto";
import {
  ecdsaSignDigest as signDigest,
  ecdsaVerifyDigest as verifyDigest,
} from "../../common/ecdsa-digest.js";
import { badParameter } from "../errors.js";
import type { CurveName } from "../state/model.js";

/**
 * ECDSA with JWA's signature format: R || S, each as long as the curve's scalars (RFC 7518 section 3.4),
 * not DER. ES256 goes with P-256, ES384 with P-384, ES512 with P-521, as Key Vault pairs them.
 */
const ALGORITHM_CURVES: Readonly<Record<string, { curve: CurveName; digestBytes: number }>> = {
  ES256: { curve: "P-256", digestBytes: 32 },
  ES384: { curve: "P-384", digestBytes: 48 },
  ES512: { curve: "P-521", digestBytes: 64 },
};

export function ecdsaSignDigest(key: KeyObject, curve: CurveName, algorithm: string, digest: Buffer): Buffer {
  checkAlgorithm(curve, algorithm, digest);
  return signDigest(key, digest, "raw");
}

export function ecdsaVerifyDigest(
  key: KeyObject,
  curve: CurveName,
  algorithm: string,
  digest: Buffer,
  signature: Buffer,
): boolean {
  checkAlgorithm(curve, algorithm, digest);
  return verifyDigest(key, digest, signature, "raw");
}

function checkAlgorithm(curve: CurveName, algorithm: string, digest: Buffer): void {
  const expected = ALGORITHM_CURVES[algorithm];
  if (!expected) throw badParameter(`The algorithm ${algorithm} is not supported by EC keys.`);
  if (expected.curve !== curve)
    throw badParameter(`The algorithm ${algorithm} requires a ${expected.curve} key.`);
  if (digest.length !== expected.digestBytes) {
    throw badParameter(`The digest for ${algorithm} must be ${expected.digestBytes} bytes.`);
  }
}

import { type KeyObject, randomBytes } from "node:crypto";
import { badParameter } from "../errors.js";
import type { CurveName } from "../state/model.js";
import { CURVE_PARAMS, type Curve, combinationX, invert, mod } from "./ec-curves.js";

/**
 * ECDSA (FIPS 186-4 section 6) over a digest the caller computed, with JWA's signature format: R || S,
 * each as long as the curve's scalars (RFC 7518 section 3.4), not DER. ES256 goes with P-256, ES384 with
 * P-384, ES512 with P-521, as Key Vault pairs them.
 */

const ALGORITHM_CURVES: Readonly<Record<string, { curve: CurveName; digestBytes: number }>> = {
  ES256: { curve: "P-256", digestBytes: 32 },
  ES384: { curve: "P-384", digestBytes: 48 },
  ES512: { curve: "P-521", digestBytes: 64 },
};

export function ecdsaSignDigest(key: KeyObject, curve: CurveName, algorithm: string, digest: Buffer): Buffer {
  const params = checkAlgorithm(curve, algorithm, digest);
  const d = scalarOf(key, "d");
  const e = digestToInteger(digest, params);
  for (;;) {
    const k = randomScalar(params);
    const r = mod(combinationX(params, k) ?? 0n, params.n);
    if (r === 0n) continue;
    const s = mod(invert(k, params.n) * (e + r * d), params.n);
    if (s === 0n) continue;
    return Buffer.concat([toBytes(r, params.size), toBytes(s, params.size)]);
  }
}

export function ecdsaVerifyDigest(
  key: KeyObject,
  curve: CurveName,
  algorithm: string,
  digest: Buffer,
  signature: Buffer,
): boolean {
  const params = checkAlgorithm(curve, algorithm, digest);
  if (signature.length !== 2 * params.size) return false;
  const r = fromBytes(signature.subarray(0, params.size));
  const s = fromBytes(signature.subarray(params.size));
  if (r <= 0n || r >= params.n || s <= 0n || s >= params.n) return false;
  const w = invert(s, params.n);
  const e = digestToInteger(digest, params);
  const x = combinationX(params, mod(e * w, params.n), {
    b: mod(r * w, params.n),
    qx: scalarOf(key, "x"),
    qy: scalarOf(key, "y"),
  });
  return x !== undefined && mod(x, params.n) === r;
}

function checkAlgorithm(curve: CurveName, algorithm: string, digest: Buffer): Curve {
  const expected = ALGORITHM_CURVES[algorithm];
  if (!expected) throw badParameter(`The algorithm ${algorithm} is not supported by EC keys.`);
  if (expected.curve !== curve)
    throw badParameter(`The algorithm ${algorithm} requires a ${expected.curve} key.`);
  if (digest.length !== expected.digestBytes) {
    throw badParameter(`The digest for ${algorithm} must be ${expected.digestBytes} bytes.`);
  }
  return CURVE_PARAMS[curve];
}

/** FIPS 186-4 section 6.4: the leftmost bits of the digest, as many as the order has. */
function digestToInteger(digest: Buffer, curve: Curve): bigint {
  const excess = digest.length * 8 - curve.n.toString(2).length;
  const value = fromBytes(digest);
  return excess > 0 ? value >> BigInt(excess) : value;
}

/** Uniform in [1, n-1]: 64 extra random bits make the bias of the reduction negligible (FIPS 186-4 B.5.1). */
function randomScalar(curve: Curve): bigint {
  return mod(fromBytes(randomBytes(curve.size + 8)), curve.n - 1n) + 1n;
}

function scalarOf(key: KeyObject, field: "d" | "x" | "y"): bigint {
  const value = key.export({ format: "jwk" })[field];
  if (value === undefined) throw new Error(`EC key has no ${field}`);
  return fromBytes(Buffer.from(value, "base64url"));
}

function fromBytes(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function toBytes(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, "0"), "hex");
}

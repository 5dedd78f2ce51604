import type { CurveName } from "../state/model.js";

/**
 * Just enough elliptic-curve arithmetic for ECDSA over a caller-supplied digest, which Node cannot do (its
 * sign/verify always hash the input). The NIST prime curves with a = -3, Jacobian coordinates, formulas
 * dbl-2001-b and add-2007-bl (Explicit-Formulas Database). Domain parameters as printed by
 * `openssl ecparam -name <curve> -param_enc explicit -text`. Not constant-time: an emulator's keys live
 * in a plain state file anyway.
 */

export interface Curve {
  p: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
  /** Bytes of a field element or scalar on the wire (x, y, r and s). */
  size: number;
}

const hex = (value: string): bigint => BigInt(`0x${value}`);

export const CURVE_PARAMS: Readonly<Record<CurveName, Curve>> = {
  "P-256": {
    p: hex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    n: hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    gx: hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
    gy: hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    size: 32,
  },
  "P-384": {
    p: hex(
      "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    ),
    n: hex(
      "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    ),
    gx: hex(
      "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
    ),
    gy: hex(
      "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
    ),
    size: 48,
  },
  "P-521": {
    p: (1n << 521n) - 1n,
    n: hex(
      "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    ),
    gx: hex(
      "00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66",
    ),
    gy: hex(
      "011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650",
    ),
    size: 66,
  },
};

/** A point in Jacobian coordinates; z = 0 is the point at infinity. */
interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint;
}

export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

/** Inverse modulo a prime, by Fermat's little theorem. */
export function invert(a: bigint, m: bigint): bigint {
  let result = 1n;
  let base = mod(a, m);
  for (let e = m - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

function double(P: Jacobian, p: bigint): Jacobian {
  if (P.z === 0n || P.y === 0n) return { x: 0n, y: 1n, z: 0n };
  const delta = (P.z * P.z) % p;
  const gamma = (P.y * P.y) % p;
  const beta = (P.x * gamma) % p;
  const alpha = mod(3n * (P.x - delta) * (P.x + delta), p);
  const x = mod(alpha * alpha - 8n * beta, p);
  const z = mod((P.y + P.z) ** 2n - gamma - delta, p);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, p);
  return { x, y, z };
}

function add(P: Jacobian, Q: Jacobian, p: bigint): Jacobian {
  if (P.z === 0n) return Q;
  if (Q.z === 0n) return P;
  const z1z1 = (P.z * P.z) % p;
  const z2z2 = (Q.z * Q.z) % p;
  const u1 = (P.x * z2z2) % p;
  const u2 = (Q.x * z1z1) % p;
  const s1 = (P.y * Q.z * z2z2) % p;
  const s2 = (Q.y * P.z * z1z1) % p;
  const h = mod(u2 - u1, p);
  const r = mod(2n * (s2 - s1), p);
  if (h === 0n) return r === 0n ? double(P, p) : { x: 0n, y: 1n, z: 0n };
  const i = (4n * h * h) % p;
  const j = (h * i) % p;
  const v = (u1 * i) % p;
  const x = mod(r * r - j - 2n * v, p);
  const y = mod(r * (v - x) - 2n * s1 * j, p);
  const z = mod(((P.z + Q.z) ** 2n - z1z1 - z2z2) * h, p);
  return { x, y, z };
}

function multiply(k: bigint, P: Jacobian, p: bigint): Jacobian {
  let result: Jacobian = { x: 0n, y: 1n, z: 0n };
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    result = double(result, p);
    if ((k >> bit) & 1n) result = add(result, P, p);
  }
  return result;
}

/** Affine x-coordinate of a·G (+ b·Q when `term` is given), or undefined for the point at infinity. */
export function combinationX(
  curve: Curve,
  a: bigint,
  term?: { b: bigint; qx: bigint; qy: bigint },
): bigint | undefined {
  let sum = multiply(a, { x: curve.gx, y: curve.gy, z: 1n }, curve.p);
  if (term) sum = add(sum, multiply(term.b, { x: term.qx, y: term.qy, z: 1n }, curve.p), curve.p);
  if (sum.z === 0n) return undefined;
  const zInverse = invert(sum.z, curve.p);
  return (sum.x * zInverse * zInverse) % curve.p;
}

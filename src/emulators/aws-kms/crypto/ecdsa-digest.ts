import { type KeyObject, randomBytes } from "node:crypto";

/**
 * ECDSA over a digest the caller already computed (Sign/Verify with MessageType DIGEST). Node's crypto
 * hashes whatever it signs, also with a null algorithm (it then uses SHA-256), so signing a given digest
 * needs the group arithmetic itself: FIPS 186-5 section 6.4 over the NIST prime curves, in BigInt with
 * Jacobian coordinates. This is emulator code: BigInt is not constant-time, which an emulator may accept and
 * a production signer may not. RAW messages go through Node's OpenSSL signer instead (signatures.ts).
 * Checked against OpenSSL in both directions by the tests.
 */

interface Curve {
  p: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
}

// SEC 2 v2 / FIPS 186-5 domain parameters; all three curves have a = -3.
const CURVES: Readonly<Record<string, Curve>> = {
  "P-256": {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  "P-384": {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
  "P-521": {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
  },
};

type Jacobian = { x: bigint; y: bigint; z: bigint };
const INFINITY: Jacobian = { x: 0n, y: 1n, z: 0n };

export function ecdsaSignDigest(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const { curve, jwk } = curveOf(privateKey);
  const d = fromBase64url(jwk.d ?? "");
  const z = digestToInteger(digest, curve.n);
  for (;;) {
    const k = randomScalar(curve.n);
    const point = toAffine(multiply(curve, { x: curve.gx, y: curve.gy, z: 1n }, k), curve.p);
    if (!point) continue;
    const r = point.x % curve.n;
    if (r === 0n) continue;
    const s = (inverse(k, curve.n) * (z + r * d)) % curve.n;
    if (s === 0n) continue;
    return encodeSignature(r, s);
  }
}

export function ecdsaVerifyDigest(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const { curve, jwk } = curveOf(publicKey);
  const decoded = decodeSignature(signature);
  if (!decoded) return false;
  const { r, s } = decoded;
  if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) return false;
  const w = inverse(s, curve.n);
  const z = digestToInteger(digest, curve.n);
  const u1 = (z * w) % curve.n;
  const u2 = (r * w) % curve.n;
  const q = { x: fromBase64url(jwk.x ?? ""), y: fromBase64url(jwk.y ?? ""), z: 1n };
  const sum = add(curve, multiply(curve, { x: curve.gx, y: curve.gy, z: 1n }, u1), multiply(curve, q, u2));
  const point = toAffine(sum, curve.p);
  return point !== undefined && point.x % curve.n === r;
}

function curveOf(key: KeyObject) {
  const jwk = key.export({ format: "jwk" });
  const curve = jwk.crv === undefined ? undefined : CURVES[jwk.crv];
  if (!curve) throw new Error(`unsupported curve ${jwk.crv ?? "(none)"}`);
  return { curve, jwk };
}

/** FIPS 186-5 6.4.1 step 4: the leftmost bits of the digest, as many as the order has. */
function digestToInteger(digest: Uint8Array, n: bigint): bigint {
  const value = BigInt(`0x${Buffer.from(digest).toString("hex") || "0"}`);
  const excess = digest.length * 8 - n.toString(2).length;
  return excess > 0 ? value >> BigInt(excess) : value;
}

/** Uniform in [1, n-1]: 64 extra random bits make the modulo bias negligible. */
function randomScalar(n: bigint): bigint {
  const bytes = Math.ceil(n.toString(2).length / 8) + 8;
  return (BigInt(`0x${randomBytes(bytes).toString("hex")}`) % (n - 1n)) + 1n;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

/** Doubling for a = -3 ("dbl-2001-b", Explicit-Formulas Database). */
function double(curve: Curve, point: Jacobian): Jacobian {
  const { p } = curve;
  if (point.z === 0n || point.y === 0n) return INFINITY;
  const delta = mod(point.z * point.z, p);
  const gamma = mod(point.y * point.y, p);
  const beta = mod(point.x * gamma, p);
  const alpha = mod(3n * (point.x - delta) * (point.x + delta), p);
  const x = mod(alpha * alpha - 8n * beta, p);
  const z = mod((point.y + point.z) ** 2n - gamma - delta, p);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, p);
  return { x, y, z };
}

/** General addition ("add-2007-bl"). */
function add(curve: Curve, a: Jacobian, b: Jacobian): Jacobian {
  const { p } = curve;
  if (a.z === 0n) return b;
  if (b.z === 0n) return a;
  const z1z1 = mod(a.z * a.z, p);
  const z2z2 = mod(b.z * b.z, p);
  const u1 = mod(a.x * z2z2, p);
  const u2 = mod(b.x * z1z1, p);
  const s1 = mod(a.y * b.z * z2z2, p);
  const s2 = mod(b.y * a.z * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(curve, a) : INFINITY;
  const h = mod(u2 - u1, p);
  const i = mod(4n * h * h, p);
  const j = mod(h * i, p);
  const r = mod(2n * (s2 - s1), p);
  const v = mod(u1 * i, p);
  const x = mod(r * r - j - 2n * v, p);
  const y = mod(r * (v - x) - 2n * s1 * j, p);
  const z = mod(((a.z + b.z) ** 2n - z1z1 - z2z2) * h, p);
  return { x, y, z };
}

function multiply(curve: Curve, point: Jacobian, scalar: bigint): Jacobian {
  let result = INFINITY;
  for (const bit of scalar.toString(2)) {
    result = double(curve, result);
    if (bit === "1") result = add(curve, result, point);
  }
  return result;
}

function toAffine(point: Jacobian, p: bigint): { x: bigint; y: bigint } | undefined {
  if (point.z === 0n) return undefined;
  const zInverse = inverse(point.z, p);
  const zInverse2 = mod(zInverse * zInverse, p);
  return { x: mod(point.x * zInverse2, p), y: mod(point.y * zInverse2 * zInverse, p) };
}

function fromBase64url(text: string): bigint {
  return BigInt(`0x${Buffer.from(text, "base64url").toString("hex") || "0"}`);
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } in DER, as KMS returns it. */
function encodeSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.of(0x30), derLength(body.length), body]);
}

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  // A set top bit would read as negative: DER then needs a leading zero byte.
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
  return Buffer.concat([Buffer.of(0x02), derLength(bytes.length), bytes]);
}

function derLength(length: number): Buffer {
  return length < 0x80 ? Buffer.of(length) : Buffer.of(0x81, length);
}

/** Strict DER: anything else is simply an invalid signature. */
function decodeSignature(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  const bytes = Buffer.from(der);
  let offset = 0;
  const readLength = (): number | undefined => {
    const first = bytes[offset++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    if (first !== 0x81) return undefined;
    const value = bytes[offset++];
    return value !== undefined && value >= 0x80 ? value : undefined;
  };
  const readInteger = (): bigint | undefined => {
    if (bytes[offset++] !== 0x02) return undefined;
    const length = readLength();
    if (length === undefined || length === 0 || offset + length > bytes.length) return undefined;
    const value = bytes.subarray(offset, offset + length);
    offset += length;
    const first = value[0] ?? 0;
    if (first & 0x80) return undefined;
    if (first === 0 && length > 1 && ((value[1] ?? 0) & 0x80) === 0) return undefined;
    return BigInt(`0x${value.toString("hex")}`);
  };
  if (bytes[offset++] !== 0x30) return undefined;
  const total = readLength();
  if (total === undefined || offset + total !== bytes.length) return undefined;
  const r = readInteger();
  const s = readInteger();
  if (r === undefined || s === undefined || offset !== bytes.length) return undefined;
  return { r, s };
}

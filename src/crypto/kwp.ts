import { aeskwp } from "@noble/ciphers/aes.js";
import { CryptoError } from "../errors/crypto-error.js";
import { InvalidInputError } from "../errors/invalid-input-error.js";

/**
 * AES Key Wrap with Padding, RFC 5649 (NIST SP 800-38F KWP), the alternative IV `A65959A6` || MLI.
 * Both BYOK schemes (Azure CKM_RSA_AES_KEY_WRAP, AWS RSA_AES_KEY_WRAP_*) use it with an AES-256 KEK;
 * 16- and 24-byte KEKs are accepted as well because the RFC's own test vectors use AES-192.
 */

const AES_KEY_LENGTHS: readonly number[] = [16, 24, 32];
/** The RFC's Message Length Indicator is 32 bits. */
const MAX_PLAINTEXT_BYTES = 0xffff_ffff;
/** One semiblock of AIV plus at least one semiblock of (padded) data. */
const MIN_WRAPPED_BYTES = 16;

/** Wrap `plaintext` (any non-empty length) under `kek`; returns 8 + ceil(len / 8) * 8 bytes. */
export function aesKeyWrapPad(kek: Uint8Array, plaintext: Uint8Array): Buffer {
  checkKek(kek);
  checkBytes(plaintext, "plaintext");
  if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw kwpInputError(
      "plaintext",
      `plaintext must be 1..${MAX_PLAINTEXT_BYTES} bytes, got ${plaintext.length}`,
    );
  }
  return asBuffer(aeskwp(kek).encrypt(plaintext));
}

/**
 * Unwrap and verify the integrity check (AIV, length indicator, zero padding). A failed check is a
 * CryptoError: wrong KEK and tampered ciphertext are indistinguishable, and the message says neither.
 * The caller owns (and should zero) the returned plaintext.
 */
export function aesKeyUnwrapPad(kek: Uint8Array, wrapped: Uint8Array): Buffer {
  checkKek(kek);
  checkBytes(wrapped, "wrapped");
  if (wrapped.length < MIN_WRAPPED_BYTES || wrapped.length % 8 !== 0) {
    throw kwpInputError(
      "wrapped",
      `wrapped must be a multiple of 8 bytes and at least ${MIN_WRAPPED_BYTES}, got ${wrapped.length}`,
    );
  }
  try {
    return asBuffer(aeskwp(kek).decrypt(wrapped));
  } catch (error) {
    throw new CryptoError("kwp_unwrap_failed", "AES key unwrap (RFC 5649) failed its integrity check", error);
  }
}

function checkKek(kek: Uint8Array): void {
  checkBytes(kek, "kek");
  if (!AES_KEY_LENGTHS.includes(kek.length)) {
    throw kwpInputError("kek", `kek must be 16, 24 or 32 bytes (an AES key), got ${kek.length}`);
  }
}

function checkBytes(value: unknown, field: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw kwpInputError(field, `${field} must be a Uint8Array`);
}

function kwpInputError(field: string, message: string): InvalidInputError {
  return new InvalidInputError("invalid_kwp_input", message, { field });
}

/** A Buffer view over noble's output, so that no second copy of unwrapped key material exists. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The SHA-2 digests of the JWA signature algorithms (RFC 7518 section 3). */
export type DigestName = "sha256" | "sha384" | "sha512";

const DIGEST_BYTES: Readonly<Record<DigestName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

export function digestBytes(hash: DigestName): number {
  return DIGEST_BYTES[hash];
}

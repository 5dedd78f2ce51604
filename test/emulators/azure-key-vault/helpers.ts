import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CryptographyClient, type JsonWebKey, KeyClient, type KeyClientOptions } from "@azure/keyvault-keys";
import { expect } from "vitest";
import { openssl, opensslOaepEncrypt, withTempDir } from "../../helpers/openssl.js";

/**
 * How the tests talk to the Azure emulator: only through @azure/keyvault-keys, configured as a user would
 * for a local vault, and the openssl CLI as the independent party that wraps, encrypts and verifies.
 */

/** @azure/identity is not a dependency: any token will do, the emulator only checks that one is sent. */
export const credential: ConstructorParameters<typeof KeyClient>[1] = {
  getToken: async () => ({ token: "emulator", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/**
 * `allowInsecureConnection`: the emulator speaks plain http (ts-http-runtime's node client refuses http
 * otherwise). `disableChallengeResourceVerification`: the challenge names https://vault.azure.net, which
 * 127.0.0.1 is not a subdomain of (keyVaultAuthenticationPolicy in @azure/keyvault-common).
 */
export const LOCAL_VAULT_OPTIONS = {
  allowInsecureConnection: true,
  disableChallengeResourceVerification: true,
};

/** Clients without the SDK's retries see every injected failure as it is. */
export const NO_RETRIES: KeyClientOptions = { ...LOCAL_VAULT_OPTIONS, retryOptions: { maxRetries: 0 } };

export function keyClient(url: string, options: KeyClientOptions = LOCAL_VAULT_OPTIONS): KeyClient {
  return new KeyClient(url, credential, options);
}

export function cryptoClient(
  keyId: string,
  options: KeyClientOptions = LOCAL_VAULT_OPTIONS,
): CryptographyClient {
  return new CryptographyClient(keyId, credential, options);
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  details?: { error?: { code?: string; innerError?: { code?: string } } };
  response?: { headers: { get(name: string): string | undefined } };
}

/** Await a rejection and check it is Key Vault's error with this status, code and inner code. */
export async function expectKeyVaultError(
  promise: Promise<unknown>,
  expected: { status: number; code: string; innerCode?: string; message?: RegExp },
): Promise<RestErrorLike> {
  const error = (await promise.then(
    () => {
      throw new Error(`expected a ${expected.status} ${expected.code} error, but the call succeeded`);
    },
    (caught: unknown) => caught,
  )) as RestErrorLike & Error;
  expect({ status: error.statusCode, code: error.code }).toEqual({
    status: expected.status,
    code: expected.code,
  });
  if (expected.innerCode) expect(error.details?.error?.innerError?.code).toBe(expected.innerCode);
  if (expected.message) expect(error.message).toMatch(expected.message);
  return error;
}

/** The public key the SDK read back (JWK n/e or crv/x/y), as a KeyObject. */
export function publicKeyFromJwk(jwk: JsonWebKey | undefined): KeyObject {
  if (!jwk) throw new Error("the key bundle has no key");
  const b64u = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("base64url");
  if (jwk.kty === "RSA" || jwk.kty === "RSA-HSM") {
    return createPublicKey({ key: { kty: "RSA", n: b64u(jwk.n), e: b64u(jwk.e) }, format: "jwk" });
  }
  return createPublicKey({ key: { kty: "EC", crv: jwk.crv, x: b64u(jwk.x), y: b64u(jwk.y) }, format: "jwk" });
}

export function pemOf(key: KeyObject): string {
  return key.export({ type: "spki", format: "pem" }).toString();
}

/**
 * A `.byok` file made the way the BYOK specification describes, with the openssl CLI: a fresh 32-byte AES
 * key (`openssl rand`), RSA-OAEP with SHA-1 and MGF1-SHA-1 of it under the KEK (`openssl pkeyutl`), AES key
 * wrap with padding of the target (`openssl enc -id-aes256-wrap-pad -iv A65959A6`), the two concatenated,
 * RSA part first, base64url in the JSON file.
 */
export function opensslByokFile(input: {
  kekPem: string;
  kekId: string;
  target: Uint8Array;
}): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "KEK.pem"), input.kekPem);
    await writeFile(join(dir, "target.der"), input.target);
    await openssl(["rand", "-out", "aes.key", "32"], dir);
    const aesHex = (await readFile(join(dir, "aes.key"))).toString("hex");
    await openssl(
      [
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "KEK.pem",
        "-in",
        "aes.key",
        "-out",
        "aes.wrapped",
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
      ],
      dir,
    );
    await openssl(
      [
        "enc",
        "-id-aes256-wrap-pad",
        "-iv",
        "A65959A6",
        "-K",
        aesHex,
        "-in",
        "target.der",
        "-out",
        "target.wrapped",
      ],
      dir,
    );
    const ciphertext = Buffer.concat([
      await readFile(join(dir, "aes.wrapped")),
      await readFile(join(dir, "target.wrapped")),
    ]);
    const file = {
      schema_version: "1.0.0",
      header: { kid: input.kekId, alg: "dir", enc: "CKM_RSA_AES_KEY_WRAP" },
      ciphertext: ciphertext.toString("base64url"),
      generator: "openssl CLI (keyferry tests)",
    };
    return Buffer.from(JSON.stringify(file), "utf8");
  });
}

/** `openssl pkey -pubout` of a PKCS#8 DER private key: the public key as OpenSSL derives it. */
export function opensslPublicPem(pkcs8: Uint8Array): Promise<string> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "key.der"), pkcs8);
    await openssl(["pkey", "-inform", "DER", "-in", "key.der", "-pubout", "-out", "pub.pem"], dir);
    return readFile(join(dir, "pub.pem"), "utf8");
  });
}

/** `openssl pkeyutl -encrypt` with OAEP (hash and MGF1 hash alike) under a PEM public key. */
export function opensslOaepEncryptPem(
  publicPem: string,
  data: Uint8Array,
  hash: "sha1" | "sha256",
): Promise<Buffer> {
  return opensslOaepEncrypt(createPublicKey(publicPem).export({ type: "spki", format: "der" }), data, hash);
}

/** `openssl dgst -verify` of an ECDSA signature; JWA's raw R || S is re-encoded as the DER openssl expects. */
export function opensslVerifyEcdsa(
  publicPem: string,
  message: Uint8Array,
  rawSignature: Uint8Array,
): Promise<void> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "pub.pem"), publicPem);
    await writeFile(join(dir, "msg.bin"), message);
    await writeFile(join(dir, "sig.der"), rawToDerSignature(rawSignature));
    // A signature that does not verify makes openssl exit non-zero, which rejects.
    await openssl(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "msg.bin"], dir);
  });
}

function rawToDerSignature(raw: Uint8Array): Buffer {
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = Buffer.from(bytes.subarray(start));
    const body = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const content = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  // P-256 signatures stay under 128 bytes, so the short length form suffices.
  return Buffer.concat([Buffer.from([0x30, content.length]), content]);
}

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { KEY_TYPE_INFO, type KeyType } from "../../src/crypto/key-types.js";

/**
 * The `openssl` CLI as an independent second implementation: every BYOK format keyferry writes is checked
 * by having OpenSSL undo it, and every format the clouds' own recipes produce is fed back to keyferry.
 * Each call works in its own temporary directory, removed afterwards.
 */

const execFileAsync = promisify(execFile);

export type OpensslHash = "sha1" | "sha256";

/** Run `openssl <args>` in `cwd`; a non-zero exit rejects with OpenSSL's stderr. */
export async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync("openssl", args, { cwd, encoding: "buffer" });
}

export async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "keyferry-openssl-"));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function oaepOptions(hash: OpensslHash): string[] {
  return [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    `rsa_oaep_md:${hash}`,
    "-pkeyopt",
    `rsa_mgf1_md:${hash}`,
  ];
}

function kwpCipher(kek: Uint8Array): string {
  return `-id-aes${kek.length * 8}-wrap-pad`;
}

/** `openssl enc -id-aesNNN-wrap-pad -iv A65959A6` in either direction. */
export function opensslKwp(direction: "wrap" | "unwrap", kek: Uint8Array, data: Uint8Array): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "in.bin"), data);
    const hexKey = Buffer.from(kek).toString("hex");
    const decrypt = direction === "unwrap" ? ["-d"] : [];
    await openssl(
      [
        "enc",
        ...decrypt,
        kwpCipher(kek),
        "-K",
        hexKey,
        "-iv",
        "A65959A6",
        "-in",
        "in.bin",
        "-out",
        "out.bin",
      ],
      dir,
    );
    return readFile(join(dir, "out.bin"));
  });
}

/** `openssl pkeyutl -encrypt -pubin` with OAEP, the public key given as DER SPKI (as AWS hands it out). */
export function opensslOaepEncrypt(
  publicKeyDer: Uint8Array,
  data: Uint8Array,
  hash: OpensslHash,
): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "WrappingPublicKey.bin"), publicKeyDer);
    await writeFile(join(dir, "in.bin"), data);
    await openssl(
      [
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        "WrappingPublicKey.bin",
        "-keyform",
        "DER",
        "-in",
        "in.bin",
        "-out",
        "out.bin",
        ...oaepOptions(hash),
      ],
      dir,
    );
    return readFile(join(dir, "out.bin"));
  });
}

/** `openssl pkeyutl -decrypt` with OAEP under a PEM private key. */
export function opensslOaepDecrypt(
  privateKeyPem: string,
  data: Uint8Array,
  hash: OpensslHash,
): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "kek.pem"), privateKeyPem);
    await writeFile(join(dir, "in.bin"), data);
    await openssl(
      ["pkeyutl", "-decrypt", "-inkey", "kek.pem", "-in", "in.bin", "-out", "out.bin", ...oaepOptions(hash)],
      dir,
    );
    return readFile(join(dir, "out.bin"));
  });
}

/** Undo RSA part || KWP part with OpenSSL alone: split at the modulus length, decrypt, unwrap. */
export async function opensslRsaAesUnwrap(
  privateKeyPem: string,
  blob: Uint8Array,
  rsaBytes: number,
  hash: OpensslHash,
): Promise<Buffer> {
  const aesKey = await opensslOaepDecrypt(privateKeyPem, blob.subarray(0, rsaBytes), hash);
  return opensslKwp("unwrap", aesKey, blob.subarray(rsaBytes));
}

/**
 * The AWS developer guide's RSA_AES_KEY_WRAP recipe ("Step 3: Encrypt the key material"), which with
 * SHA-1 is also Azure's CKM_RSA_AES_KEY_WRAP: `openssl rand 32`, KWP of the material under it, OAEP of
 * it under the wrapping key, then `cat` RSA part and KWP part.
 */
export function opensslRsaAesWrap(
  publicKeyDer: Uint8Array,
  material: Uint8Array,
  hash: OpensslHash,
): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "WrappingPublicKey.bin"), publicKeyDer);
    await writeFile(join(dir, "PlaintextKeyMaterial.der"), material);
    await openssl(["rand", "-out", "aes-key.bin", "32"], dir);
    const hexKey = (await readFile(join(dir, "aes-key.bin"))).toString("hex");
    await openssl(
      [
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        hexKey,
        "-iv",
        "A65959A6",
        "-in",
        "PlaintextKeyMaterial.der",
        "-out",
        "key-material-wrapped.bin",
      ],
      dir,
    );
    await openssl(
      [
        "pkeyutl",
        "-encrypt",
        "-in",
        "aes-key.bin",
        "-out",
        "aes-key-wrapped.bin",
        "-inkey",
        "WrappingPublicKey.bin",
        "-keyform",
        "DER",
        "-pubin",
        ...oaepOptions(hash),
      ],
      dir,
    );
    const [rsaPart, kwpPart] = await Promise.all([
      readFile(join(dir, "aes-key-wrapped.bin")),
      readFile(join(dir, "key-material-wrapped.bin")),
    ]);
    return Buffer.concat([rsaPart, kwpPart]);
  });
}

/**
 * Key material of `keyType` made by OpenSSL, in the formats both clouds import: `openssl rand 32` for AES,
 * PKCS#8 DER for RSA and EC. `genpkey -outform DER` would write PKCS#1 / SEC1 ("traditional") DER, not
 * PKCS#8, hence the `pkcs8 -topk8` step.
 */
export function opensslGenerateMaterial(keyType: KeyType): Promise<Buffer> {
  const info = KEY_TYPE_INFO[keyType];
  return withTempDir(async (dir) => {
    if (info.family === "aes") {
      await openssl(["rand", "-out", "key.der", String(info.bits / 8)], dir);
    } else {
      const options =
        info.family === "rsa"
          ? ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${info.bits}`]
          : [
              "-algorithm",
              "EC",
              "-pkeyopt",
              `ec_paramgen_curve:${info.joseCurve}`,
              "-pkeyopt",
              "ec_param_enc:named_curve",
            ];
      await openssl(["genpkey", ...options, "-out", "key.pem"], dir);
      await openssl(
        ["pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der"],
        dir,
      );
    }
    return readFile(join(dir, "key.der"));
  });
}

/** SHA-256 of a public key's DER SPKI, computed by OpenSSL from PEM. */
export function opensslSpkiSha256(publicKeyPem: string): Promise<string> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "pub.pem"), publicKeyPem);
    await openssl(["pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der"], dir);
    await openssl(["dgst", "-sha256", "-r", "-out", "digest.txt", "pub.der"], dir);
    const line = await readFile(join(dir, "digest.txt"), "utf8");
    return line.split(" ")[0] ?? "";
  });
}

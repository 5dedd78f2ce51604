import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KMSClient, type KMSClientConfig } from "@aws-sdk/client-kms";
import { expect } from "vitest";
import { openssl, withTempDir } from "../../helpers/openssl.js";

/**
 * Shared by the AWS KMS emulator tests: an SDK client for an emulator, an assertion on the error name the
 * SDK surfaces, and the openssl invocations that check the emulator's public keys and signatures
 * independently of Node's crypto.
 */

export const REGION = "eu-west-1";
export const ACCOUNT = "111122223333";

export function kmsClient(url: string, config: Partial<KMSClientConfig> = {}): KMSClient {
  return new KMSClient({
    endpoint: url,
    region: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    ...config,
  });
}

/** Await a rejection and check the SDK's error name (the service's `__type`). */
export async function expectKmsError(promise: Promise<unknown>, name: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  expect(error, `expected ${name}`).toBeInstanceOf(Error);
  expect(error?.name).toBe(name);
  return error as Error;
}

/** `openssl pkey -pubout`: the DER SPKI of a PKCS#8 DER private key. */
export function opensslPublicKeyDer(privateKeyDer: Uint8Array): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "key.der"), privateKeyDer);
    await openssl(
      ["pkey", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER", "-out", "pub.der"],
      dir,
    );
    return readFile(join(dir, "pub.der"));
  });
}

export interface OpensslSignature {
  publicKeyDer: Uint8Array;
  /** The message (RAW) or its digest (DIGEST). */
  message: Uint8Array;
  signature: Uint8Array;
  hash: "sha256" | "sha384" | "sha512";
  messageType: "RAW" | "DIGEST";
  /** RSA padding; ECDSA when absent. KMS's PSS salt is as long as the hash. */
  rsaPadding?: "pss" | "pkcs1";
}

/** Whether OpenSSL accepts the signature: `dgst -verify` for messages, `pkeyutl -verify` for digests. */
export function opensslVerifies(input: OpensslSignature): Promise<boolean> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, "pub.der"), input.publicKeyDer);
    await writeFile(join(dir, "message.bin"), input.message);
    await writeFile(join(dir, "signature.bin"), input.signature);
    await openssl(["pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem"], dir);
    const saltLength = { sha256: "32", sha384: "48", sha512: "64" }[input.hash];
    const pss = input.rsaPadding === "pss";
    const args =
      input.messageType === "RAW"
        ? [
            "dgst",
            `-${input.hash}`,
            ...(pss ? ["-sigopt", "rsa_padding_mode:pss", "-sigopt", `rsa_pss_saltlen:${saltLength}`] : []),
            "-verify",
            "pub.pem",
            "-signature",
            "signature.bin",
            "message.bin",
          ]
        : [
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-in",
            "message.bin",
            "-sigfile",
            "signature.bin",
            "-pkeyopt",
            `digest:${input.hash}`,
            ...(pss ? ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", `rsa_pss_saltlen:${saltLength}`] : []),
          ];
    return openssl(args, dir).then(
      () => true,
      () => false,
    );
  });
}

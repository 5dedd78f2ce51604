import { createHash, randomBytes, verify } from "node:crypto";
import { request } from "node:http";
import type { KeyClient, KeyVaultKey } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzureKeyVaultEmulator } from "../../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { opensslGenerateMaterial } from "../../helpers/openssl.js";
import {
  cryptoClient,
  expectKeyVaultError,
  keyClient,
  opensslByokFile,
  opensslPublicPem,
  opensslVerifyEcdsa,
  pemOf,
  publicKeyFromJwk,
} from "./helpers.js";

/**
 * BYOK of EC keys, what the service refuses (each refusal seen through the SDK with its real error name),
 * AES keys on a Managed HSM, and the challenge that comes before any body is read.
 */
describe("Azure Key Vault emulator: EC BYOK, refusals and the auth challenge", () => {
  let vault: RunningEmulator;
  let client: KeyClient;
  let kek: KeyVaultKey;
  let kekPem: string;
  let ecP256: Buffer;
  let ecP384: Buffer;

  const byokFor = (target: Uint8Array, kekId = kek.id ?? "") => opensslByokFile({ kekPem, kekId, target });

  beforeAll(async () => {
    vault = await startAzureKeyVaultEmulator();
    client = keyClient(vault.url);
    // A 2048-bit KEK: the refusals do not depend on its size, and it is four times faster to make.
    [kek, ecP256, ecP384] = await Promise.all([
      client.createRsaKey("kek", { hsm: true, keySize: 2048, keyOps: ["import"] }),
      opensslGenerateMaterial("ecdsa-p256"),
      opensslGenerateMaterial("ecdsa-p384"),
    ]);
    kekPem = pemOf(publicKeyFromJwk(kek.key));
  });

  afterAll(async () => {
    await vault?.close();
  });

  it("imports an EC-HSM P-256 key; its signatures verify with node and with openssl", async () => {
    const key = await client.importKey(
      "ec-signer",
      { kty: "EC-HSM", crv: "P-256", keyOps: ["sign", "verify"], t: await byokFor(ecP256) },
      { hardwareProtected: true },
    );
    expect(key.keyType).toBe("EC-HSM");
    expect(key.key?.crv).toBe("P-256");
    const publicPem = pemOf(publicKeyFromJwk(key.key));
    expect(publicPem).toBe(await opensslPublicPem(ecP256));

    const message = Buffer.from("signed inside the emulated HSM");
    const digest = createHash("sha256").update(message).digest();
    const { result: signature } = await cryptoClient(key.id ?? "").sign("ES256", digest);
    expect(signature.length).toBe(64);
    expect(verify("sha256", message, { key: publicPem, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
    await opensslVerifyEcdsa(publicPem, message, signature);

    const remote = cryptoClient(key.id ?? "");
    expect((await remote.verify("ES256", digest, signature)).result).toBe(true);
    expect(
      (await remote.verify("ES256", createHash("sha256").update("other").digest(), signature)).result,
    ).toBe(false);
  });

  it("refuses a KEK with import and other operations, at creation", async () => {
    await expectKeyVaultError(
      client.createRsaKey("kek-mixed", { hsm: true, keyOps: ["import", "decrypt"] }),
      {
        status: 400,
        code: "BadParameter",
        message: /exclusive/,
      },
    );
    await expectKeyVaultError(client.createRsaKey("kek-software", { keyOps: ["import"] }), {
      status: 400,
      code: "BadParameter",
    });
  });

  it("refuses a .byok whose KEK is not an import-only RSA-HSM key", async () => {
    const ordinary = await client.createRsaKey("not-a-kek", { hsm: true, keyOps: ["encrypt", "decrypt"] });
    const file = await opensslByokFile({
      kekPem: pemOf(publicKeyFromJwk(ordinary.key)),
      kekId: ordinary.id ?? "",
      target: ecP256,
    });
    await expectKeyVaultError(
      client.importKey("target", { kty: "EC-HSM", t: file }, { hardwareProtected: true }),
      { status: 400, code: "BadParameter", message: /key exchange key/ },
    );
  });

  it("refuses a KEK that is in no vault, unknown in this one, or in another vault", async () => {
    const unknownHere = `${vault.url}/keys/no-such-kek/${"0".repeat(32)}`;
    const elsewhere = `https://elsewhere.vault.azure.net/keys/kek/${kek.properties.version}`;
    for (const [kekId, message] of [
      [unknownHere, /not found in this vault/],
      [elsewhere, /not in this vault/],
      ["kek", /not a key identifier/],
    ] as const) {
      await expectKeyVaultError(
        client.importKey(
          "target",
          { kty: "EC-HSM", t: await byokFor(ecP256, kekId) },
          { hardwareProtected: true },
        ),
        { status: 400, code: "BadParameter", message },
      );
    }
  });

  it("refuses a tampered ciphertext", async () => {
    const file = JSON.parse((await byokFor(ecP256)).toString()) as { ciphertext: string };
    const ciphertext = Buffer.from(file.ciphertext, "base64url");
    // A bit flipped in the KWP part: the RSA part still decrypts, the RFC 5649 integrity check fails.
    ciphertext[ciphertext.length - 3] = (ciphertext[ciphertext.length - 3] ?? 0) ^ 0x01;
    const tampered = Buffer.from(JSON.stringify({ ...file, ciphertext: ciphertext.toString("base64url") }));
    await expectKeyVaultError(
      client.importKey("target", { kty: "EC-HSM", t: tampered }, { hardwareProtected: true }),
      { status: 400, code: "BadParameter", message: /unwrapped/ },
    );
  });

  it("refuses material that does not match kty or crv", async () => {
    await expectKeyVaultError(
      client.importKey("target", { kty: "RSA-HSM", t: await byokFor(ecP256) }, { hardwareProtected: true }),
      { status: 400, code: "BadParameter", message: /kty/ },
    );
    await expectKeyVaultError(
      client.importKey(
        "target",
        { kty: "EC-HSM", crv: "P-256", t: await byokFor(ecP384) },
        { hardwareProtected: true },
      ),
      { status: 400, code: "BadParameter", message: /P-384/ },
    );
    await expectKeyVaultError(client.getKey("target"), { status: 404, code: "KeyNotFound" });
  });

  it("refuses oct-HSM keys in a key vault", async () => {
    await expectKeyVaultError(client.createOctKey("aes", { hsm: true }), {
      status: 400,
      code: "BadParameter",
    });
    await expectKeyVaultError(
      client.importKey(
        "aes",
        { kty: "oct-HSM", t: await byokFor(randomBytes(32)) },
        { hardwareProtected: true },
      ),
      { status: 400, code: "BadParameter", message: /Managed HSM/ },
    );
  });

  it("imports AES keys into a Managed HSM and uses them for A256GCM and A256KW", async () => {
    const hsm = await startAzureKeyVaultEmulator({ managedHsm: true });
    try {
      const hsmClient = keyClient(hsm.url);
      const hsmKek = await hsmClient.createRsaKey("kek", { hsm: true, keySize: 2048, keyOps: ["import"] });
      const file = await opensslByokFile({
        kekPem: pemOf(publicKeyFromJwk(hsmKek.key)),
        kekId: hsmKek.id ?? "",
        target: randomBytes(32),
      });
      const aes = await hsmClient.importKey("aes", { kty: "oct-HSM", t: file }, { hardwareProtected: true });
      expect(aes.keyType).toBe("oct-HSM");
      expect(aes.key?.k).toBeUndefined();

      const crypto = cryptoClient(aes.id ?? "");
      const plaintext = Buffer.from("symmetric, never leaves the HSM");
      const aad = Buffer.from("context");
      const sealed = await crypto.encrypt({
        algorithm: "A256GCM",
        plaintext,
        additionalAuthenticatedData: aad,
      });
      expect(sealed.iv?.length).toBe(12);
      const opened = await crypto.decrypt({
        algorithm: "A256GCM",
        ciphertext: sealed.result,
        iv: sealed.iv ?? new Uint8Array(),
        authenticationTag: sealed.authenticationTag ?? new Uint8Array(),
        additionalAuthenticatedData: aad,
      });
      expect(Buffer.from(opened.result).toString()).toBe(plaintext.toString());

      const dataKey = randomBytes(32);
      const wrapped = await crypto.wrapKey("A256KW", dataKey);
      expect(Buffer.from((await crypto.unwrapKey("A256KW", wrapped.result)).result)).toEqual(dataKey);

      const generated = await hsmClient.createOctKey("generated", { hsm: true, keySize: 256 });
      expect(generated.keyOperations).toEqual(["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
      const generatedWrap = await cryptoClient(generated.id ?? "").wrapKey("A256KW", dataKey);
      expect(generatedWrap.result.length).toBe(40);

      await expectKeyVaultError(hsmClient.createRsaKey("software", { keySize: 2048 }), {
        status: 400,
        code: "BadParameter",
      });
    } finally {
      await hsm.close();
    }
  });

  it("answers 401 with the challenge before the body arrives", async () => {
    const url = new URL(`${vault.url}/keys/challenge/create?api-version=2025-07-01`);
    const answer = await new Promise<{ status?: number; challenge?: string | string[]; body: string }>(
      (resolve, reject) => {
        const pending = request(url, {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": "1048576" },
        });
        pending.on("error", reject);
        pending.on("response", (response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on("end", () => {
            resolve({ status: response.statusCode, challenge: response.headers["www-authenticate"], body });
            pending.destroy();
          });
        });
        // Headers only: a megabyte is announced and none of it is ever sent.
        pending.flushHeaders();
      },
    );
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe(
      'Bearer authorization="https://login.windows.net/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
    );
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
    });

    const plain = await fetch(`${vault.url}/keys?api%2Dversion=2025-07-01`);
    expect(plain.status).toBe(401);
    expect(plain.headers.get("www-authenticate")).toContain('resource="https://vault.azure.net"');
  });
});

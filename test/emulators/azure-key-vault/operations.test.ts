import { constants, createHash, generateKeyPairSync, publicEncrypt, randomBytes, verify } from "node:crypto";
import type { KeyClient, KeyVaultKey } from "@azure/keyvault-keys";
import { CryptographyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzureKeyVaultEmulator } from "../../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import {
  credential,
  cryptoClient,
  expectKeyVaultError,
  keyClient,
  LOCAL_VAULT_OPTIONS,
  publicKeyFromJwk,
} from "./helpers.js";

/**
 * The rest of the keys API as the SDK uses it, on software keys: what a key bundle carries, every signature
 * and encryption algorithm (checked against node:crypto), import from JWK private parts, property updates,
 * paging, and the refusals of ordinary use.
 */
describe("Azure Key Vault emulator: keys API through the SDK", () => {
  let emulator: RunningEmulator;
  let client: KeyClient;
  let rsa: KeyVaultKey;
  const ec: Record<string, KeyVaultKey> = {};

  beforeAll(async () => {
    emulator = await startAzureKeyVaultEmulator();
    client = keyClient(emulator.url);
    const [rsaKey, p256, p384, p521] = await Promise.all([
      client.createRsaKey("rsa-software", {
        keySize: 2048,
        tags: { owner: "keyferry" },
        notBefore: new Date("2024-01-01T00:00:00Z"),
        // The SDK writes unix seconds with `| 0`: dates after 2038-01-19 wrap to negative numbers.
        expiresOn: new Date("2037-12-31T00:00:00Z"),
      }),
      client.createEcKey("ec-p256", { curve: "P-256" }),
      client.createEcKey("ec-p384", { curve: "P-384" }),
      client.createEcKey("ec-p521", { curve: "P-521" }),
    ]);
    rsa = rsaKey;
    Object.assign(ec, { ES256: p256, ES384: p384, ES512: p521 });
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it("returns key bundles as the SDK expects them", () => {
    expect(rsa.name).toBe("rsa-software");
    expect(rsa.keyType).toBe("RSA");
    expect(rsa.keyOperations).toEqual(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]);
    expect(rsa.properties).toMatchObject({
      vaultUrl: emulator.url,
      enabled: true,
      recoveryLevel: "Recoverable+Purgeable",
      recoverableDays: 90,
      exportable: false,
      tags: { owner: "keyferry" },
      notBefore: new Date("2024-01-01T00:00:00Z"),
      expiresOn: new Date("2037-12-31T00:00:00Z"),
    });
    expect(rsa.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(rsa.properties.createdOn?.getTime()).toBe(rsa.properties.updatedOn?.getTime());
    expect([...(rsa.key?.e ?? [])]).toEqual([1, 0, 1]);
    expect(ec.ES512?.key?.crv).toBe("P-521");
    expect(ec.ES512?.key?.x?.length).toBe(66);
    expect(ec.ES512?.keyOperations).toEqual(["sign", "verify"]);
  });

  it("signs with RS256..512 and PS256..512; node verifies, and so does the vault", async () => {
    const publicKey = publicKeyFromJwk(rsa.key);
    const crypto = cryptoClient(rsa.id ?? "");
    for (const algorithm of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] as const) {
      const hash = `sha${algorithm.slice(2)}`;
      const message = Buffer.from(`message for ${algorithm}`);
      const digest = createHash(hash).update(message).digest();
      const { result } = await crypto.sign(algorithm, digest);
      const pss = algorithm.startsWith("PS");
      const key = pss
        ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: digest.length }
        : publicKey;
      expect(verify(hash, message, key, result), algorithm).toBe(true);
      expect((await crypto.verify(algorithm, digest, result)).result, algorithm).toBe(true);
      expect((await crypto.verify(algorithm, digest, randomBytes(256))).result, algorithm).toBe(false);
    }
  });

  it("signs with ES256, ES384 and ES512 as raw R || S; node verifies, and so does the vault", async () => {
    for (const [algorithm, hash, size] of [
      ["ES256", "sha256", 64],
      ["ES384", "sha384", 96],
      ["ES512", "sha512", 132],
    ] as const) {
      const key = ec[algorithm];
      const message = Buffer.from(`message for ${algorithm}`);
      const digest = createHash(hash).update(message).digest();
      const crypto = cryptoClient(key?.id ?? "");
      const { result } = await crypto.sign(algorithm, digest);
      expect(result.length).toBe(size);
      const publicKey = publicKeyFromJwk(key?.key);
      expect(verify(hash, message, { key: publicKey, dsaEncoding: "ieee-p1363" }, result), algorithm).toBe(
        true,
      );
      expect((await crypto.verify(algorithm, digest, result)).result, algorithm).toBe(true);
    }
    await expectKeyVaultError(cryptoClient(ec.ES256?.id ?? "").sign("ES384", randomBytes(48)), {
      status: 400,
      code: "BadParameter",
    });
  });

  it("encrypts, decrypts, wraps and unwraps with RSA-OAEP, RSA-OAEP-256 and RSA1_5", async () => {
    const crypto = cryptoClient(rsa.id ?? "");
    const plaintext = Buffer.from("data key");
    // RSA-OAEP-256 has no local provider in the SDK: both directions go to the vault.
    const sealed = await crypto.encrypt({ algorithm: "RSA-OAEP-256", plaintext });
    expect(
      Buffer.from((await crypto.decrypt({ algorithm: "RSA-OAEP-256", ciphertext: sealed.result })).result),
    ).toEqual(plaintext);
    const legacy = publicEncrypt(
      { key: publicKeyFromJwk(rsa.key), padding: constants.RSA_PKCS1_PADDING },
      plaintext,
    );
    expect(Buffer.from((await crypto.decrypt({ algorithm: "RSA1_5", ciphertext: legacy })).result)).toEqual(
      plaintext,
    );
    for (const algorithm of ["RSA-OAEP", "RSA-OAEP-256"] as const) {
      const wrapped = await crypto.wrapKey(algorithm, plaintext);
      expect(Buffer.from((await crypto.unwrapKey(algorithm, wrapped.result)).result), algorithm).toEqual(
        plaintext,
      );
    }
    await expectKeyVaultError(crypto.decrypt({ algorithm: "RSA-OAEP", ciphertext: randomBytes(256) }), {
      status: 400,
      code: "BadParameter",
    });
  });

  it("imports software and HSM keys from JWK private parts", async () => {
    const rsaPair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaJwk = rsaPair.privateKey.export({ format: "jwk" });
    const bytes = (value: string | undefined) => Buffer.from(value ?? "", "base64url");
    const imported = await client.importKey("jwk-rsa", {
      kty: "RSA",
      keyOps: ["decrypt"],
      n: bytes(rsaJwk.n),
      e: bytes(rsaJwk.e),
      d: bytes(rsaJwk.d),
      p: bytes(rsaJwk.p),
      q: bytes(rsaJwk.q),
      dp: bytes(rsaJwk.dp),
      dq: bytes(rsaJwk.dq),
      qi: bytes(rsaJwk.qi),
    });
    expect(imported.keyType).toBe("RSA");
    expect(imported.key?.d).toBeUndefined();
    const ciphertext = publicEncrypt(
      { key: rsaPair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      Buffer.from("mine"),
    );
    const { result } = await cryptoClient(imported.id ?? "").decrypt({
      algorithm: "RSA-OAEP-256",
      ciphertext,
    });
    expect(Buffer.from(result).toString()).toBe("mine");

    const ecJwk = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "jwk" });
    const ecImported = await client.importKey(
      "jwk-ec",
      { kty: "EC", crv: "P-384", x: bytes(ecJwk.x), y: bytes(ecJwk.y), d: bytes(ecJwk.d) },
      { hardwareProtected: true },
    );
    expect(ecImported.keyType).toBe("EC-HSM");
    expect(Buffer.from(ecImported.key?.x ?? [])).toEqual(bytes(ecJwk.x));

    await expectKeyVaultError(
      client.importKey("jwk-public", { kty: "RSA", n: bytes(rsaJwk.n), e: bytes(rsaJwk.e) }),
      {
        status: 400,
        code: "BadParameter",
      },
    );
  });

  it("updates tags, key operations and validity; an operation the key no longer allows is 403", async () => {
    const key = await client.createEcKey("updatable", { curve: "P-256", tags: { a: "1" } });
    // No version: the SDK patches /keys/{name}/, the latest version.
    const updated = await client.updateKeyProperties("updatable", { tags: { b: "2" }, keyOps: ["verify"] });
    expect(updated.properties.version).toBe(key.properties.version);
    expect(updated.properties.tags).toEqual({ b: "2" });
    expect(updated.keyOperations).toEqual(["verify"]);

    // A client holding the bundle from before the update still believes it may sign: the vault says no.
    const stale = new CryptographyClient(key, credential, LOCAL_VAULT_OPTIONS);
    await expectKeyVaultError(stale.sign("ES256", randomBytes(32)), {
      status: 403,
      code: "Forbidden",
      innerCode: "KeyOperationForbidden",
    });

    const expiring = await client.createEcKey("expiring", { curve: "P-256" });
    await client.updateKeyProperties("expiring", expiring.properties.version ?? "", {
      expiresOn: new Date(Date.now() - 60_000),
    });
    // The SDK checks validity itself on a fresh bundle; a cached one reaches the vault, which refuses too.
    await expectKeyVaultError(
      new CryptographyClient(expiring, credential, LOCAL_VAULT_OPTIONS).sign("ES256", randomBytes(32)),
      {
        status: 403,
        code: "Forbidden",
        innerCode: "KeyExpired",
      },
    );

    await expectKeyVaultError(client.updateKeyProperties("updatable", { keyOps: ["encrypt"] }), {
      status: 400,
      code: "BadParameter",
      message: /Unsupported key operation/,
    });
  });

  it("lists keys and versions page by page, following nextLink", async () => {
    for (let i = 0; i < 3; i++) await client.createEcKey("paged", { curve: "P-256" });
    const pages: string[][] = [];
    for await (const page of client.listPropertiesOfKeyVersions("paged").byPage({ maxPageSize: 2 })) {
      pages.push(page.map((properties) => properties.version ?? ""));
    }
    expect(pages.map((page) => page.length)).toEqual([2, 1]);
    expect(new Set(pages.flat()).size).toBe(3);

    const names: string[] = [];
    for await (const page of client.listPropertiesOfKeys().byPage({ maxPageSize: 3 })) {
      expect(page.length).toBeLessThanOrEqual(3);
      names.push(...page.map((properties) => properties.name));
    }
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["rsa-software", "ec-p256", "paged", "updatable"]));
    expect(new Set(names).size).toBe(names.length);
  });

  it("answers KeyNotFound for unknown keys and versions, BadParameter for bad names and types", async () => {
    await expectKeyVaultError(client.getKey("missing"), {
      status: 404,
      code: "KeyNotFound",
      message: /missing/,
    });
    await expectKeyVaultError(client.getKey("rsa-software", { version: "0".repeat(32) }), {
      status: 404,
      code: "KeyNotFound",
    });
    await expectKeyVaultError(client.createKey("bad_name", "EC"), { status: 400, code: "BadParameter" });
    await expectKeyVaultError(client.createKey("other", "oct"), { status: 400, code: "BadParameter" });
    await expectKeyVaultError(client.createRsaKey("other", { keySize: 1024 }), {
      status: 400,
      code: "BadParameter",
    });
    await expectKeyVaultError(client.createEcKey("other", { keyOps: ["encrypt"] }), {
      status: 400,
      code: "BadParameter",
      message: /Unsupported key operation/,
    });
  });
});

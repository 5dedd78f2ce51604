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
  opensslOaepEncryptPem,
  opensslPublicPem,
  pemOf,
  publicKeyFromJwk,
} from "./helpers.js";

/**
 * The BYOK demo of issue 3, end to end through the SDK: a KEK made in the vault, its public key read back,
 * RSA target keys made and wrapped by the openssl CLI as the BYOK specification describes, imported,
 * proven to be the same keys (openssl encrypts, the vault decrypts), rotated, disabled, deleted, recovered,
 * purged and imported again. The steps build on each other, so they run in order on one vault.
 */
describe("Azure Key Vault emulator: BYOK of RSA keys with the openssl CLI", () => {
  let emulator: RunningEmulator;
  let client: KeyClient;
  let kek: KeyVaultKey;
  let kekPem: string;
  const material: Buffer[] = [];
  const byok: Buffer[] = [];
  const imported: KeyVaultKey[] = [];
  const name = "byok-rsa";

  beforeAll(async () => {
    emulator = await startAzureKeyVaultEmulator();
    client = keyClient(emulator.url);
    // The two target keys are made while the vault generates the 4096-bit KEK.
    const [kekKey, first, second] = await Promise.all([
      client.createRsaKey("kek", { hsm: true, keySize: 4096, keyOps: ["import"] }),
      opensslGenerateMaterial("rsa-2048"),
      opensslGenerateMaterial("rsa-3072"),
    ]);
    kek = kekKey;
    material.push(first, second);
    kekPem = pemOf(publicKeyFromJwk(kek.key));
    byok.push(
      ...(await Promise.all(
        material.map((target) => opensslByokFile({ kekPem, kekId: kek.id ?? "", target })),
      )),
    );
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it("creates a key exchange key: RSA-HSM 4096 whose only operation is import", () => {
    expect(kek.keyType).toBe("RSA-HSM");
    expect(kek.keyOperations).toEqual(["import"]);
    expect(kek.id).toMatch(new RegExp(`^${emulator.url}/keys/kek/[0-9a-f]{32}$`));
    expect(publicKeyFromJwk(kek.key).asymmetricKeyDetails?.modulusLength).toBe(4096);
  });

  it("imports a .byok file and reads back the public key openssl derives from the target", async () => {
    const key = await client.importKey(
      name,
      { kty: "RSA-HSM", keyOps: ["decrypt", "encrypt"], t: byok[0] },
      { hardwareProtected: true, tags: { "keyferry-version": "1" } },
    );
    imported.push(key);
    expect(key.keyType).toBe("RSA-HSM");
    expect(key.keyOperations).toEqual(["decrypt", "encrypt"]);
    expect(key.properties.tags).toEqual({ "keyferry-version": "1" });

    const read = await client.getKey(name);
    expect(read.id).toBe(key.id);
    expect(pemOf(publicKeyFromJwk(read.key))).toBe(await opensslPublicPem(material[0] ?? Buffer.alloc(0)));
  });

  it("decrypts in the vault what openssl encrypted with RSA-OAEP and RSA-OAEP-256", async () => {
    const publicPem = await opensslPublicPem(material[0] ?? Buffer.alloc(0));
    const crypto = cryptoClient(imported[0]?.id ?? "");
    for (const [algorithm, hash] of [
      ["RSA-OAEP", "sha1"],
      ["RSA-OAEP-256", "sha256"],
    ] as const) {
      const text = Buffer.from(`bring your own key, ${algorithm}`);
      const ciphertext = await opensslOaepEncryptPem(publicPem, text, hash);
      const { result } = await crypto.decrypt({ algorithm, ciphertext });
      expect(Buffer.from(result).toString()).toBe(text.toString());
    }
  });

  it("rotates: a second import under the same name is a new version, and both are listed", async () => {
    const second = await client.importKey(
      name,
      { kty: "RSA-HSM", keyOps: ["decrypt", "encrypt"], t: byok[1] },
      { hardwareProtected: true, tags: { "keyferry-version": "2" } },
    );
    imported.push(second);
    expect(second.properties.version).not.toBe(imported[0]?.properties.version);
    expect(publicKeyFromJwk(second.key).asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect((await client.getKey(name)).properties.version).toBe(second.properties.version);

    const versions: Array<{ version?: string; tags?: Record<string, string> }> = [];
    for await (const properties of client.listPropertiesOfKeyVersions(name)) versions.push(properties);
    expect(versions.map((v) => v.version).sort()).toEqual(
      [imported[0]?.properties.version, second.properties.version].sort(),
    );
    expect(versions.map((v) => v.tags?.["keyferry-version"]).sort()).toEqual(["1", "2"]);
  });

  it("disables the old version: decrypting with it is 403 KeyDisabled, the new one works", async () => {
    const [v1, v2] = imported;
    const disabled = await client.updateKeyProperties(name, v1?.properties.version ?? "", { enabled: false });
    expect(disabled.properties.enabled).toBe(false);

    const ciphertext = await opensslOaepEncryptPem(
      pemOf(publicKeyFromJwk(v1?.key)),
      Buffer.from("old"),
      "sha256",
    );
    await expectKeyVaultError(cryptoClient(v1?.id ?? "").decrypt({ algorithm: "RSA-OAEP-256", ciphertext }), {
      status: 403,
      code: "Forbidden",
      innerCode: "KeyDisabled",
    });
    await expectKeyVaultError(client.getKey(name, { version: v1?.properties.version ?? "" }), {
      status: 403,
      code: "Forbidden",
      innerCode: "KeyDisabled",
    });

    const fresh = await opensslOaepEncryptPem(pemOf(publicKeyFromJwk(v2?.key)), Buffer.from("new"), "sha256");
    const { result } = await cryptoClient(v2?.id ?? "").decrypt({
      algorithm: "RSA-OAEP-256",
      ciphertext: fresh,
    });
    expect(Buffer.from(result).toString()).toBe("new");
  });

  it("deletes softly: the name is 409 ObjectIsDeletedButRecoverable until it is recovered", async () => {
    const deleted = await (await client.beginDeleteKey(name)).pollUntilDone();
    expect(deleted.properties.recoveryId).toBe(`${emulator.url}/deletedkeys/${name}`);
    expect(deleted.properties.deletedOn).toBeInstanceOf(Date);
    expect(deleted.properties.scheduledPurgeDate?.getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);

    const read = await client.getDeletedKey(name);
    expect(read.properties.version).toBe(imported[1]?.properties.version);
    const listed: string[] = [];
    for await (const item of client.listDeletedKeys()) listed.push(item.name);
    expect(listed).toContain(name);
    await expectKeyVaultError(client.getKey(name), { status: 404, code: "KeyNotFound" });

    await expectKeyVaultError(
      client.importKey(
        name,
        { kty: "RSA-HSM", keyOps: ["decrypt"], t: byok[0] },
        { hardwareProtected: true },
      ),
      { status: 409, code: "Conflict", innerCode: "ObjectIsDeletedButRecoverable" },
    );

    const recovered = await (await client.beginRecoverDeletedKey(name)).pollUntilDone();
    expect(recovered.properties.version).toBe(imported[1]?.properties.version);
    const again = await opensslOaepEncryptPem(
      pemOf(publicKeyFromJwk(recovered.key)),
      Buffer.from("back"),
      "sha1",
    );
    const { result } = await cryptoClient(recovered.id ?? "").decrypt({
      algorithm: "RSA-OAEP",
      ciphertext: again,
    });
    expect(Buffer.from(result).toString()).toBe("back");
  });

  it("deletes and purges: the name is free again and a fresh import starts a new key", async () => {
    await (await client.beginDeleteKey(name)).pollUntilDone();
    await client.purgeDeletedKey(name);
    await expectKeyVaultError(client.getDeletedKey(name), { status: 404, code: "KeyNotFound" });

    const reimported = await client.importKey(
      name,
      { kty: "RSA-HSM", keyOps: ["decrypt", "encrypt"], t: byok[0] },
      { hardwareProtected: true },
    );
    const versions: string[] = [];
    for await (const properties of client.listPropertiesOfKeyVersions(name))
      versions.push(properties.version ?? "");
    expect(versions).toEqual([reimported.properties.version]);
    expect(pemOf(publicKeyFromJwk(reimported.key))).toBe(pemOf(publicKeyFromJwk(imported[0]?.key)));
  });
});

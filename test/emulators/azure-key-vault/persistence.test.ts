import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
 * State that outlives the process: keys, versions, soft-deleted keys and the KEK survive a restart from the
 * state file. The file holds no URL: on the same port every kid is unchanged; on another port the same keys
 * answer under the new URL, and a .byok naming the KEK by its old URL is refused as a KEK of another vault.
 */
describe("Azure Key Vault emulator: persistence and purge delay", () => {
  let dir: string;
  let target: Buffer;
  let second: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "keyferry-azure-state-"));
    [target, second] = await Promise.all([
      opensslGenerateMaterial("rsa-2048"),
      opensslGenerateMaterial("rsa-2048"),
    ]);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps imported keys, versions, deleted keys and the KEK across restarts", async () => {
    const stateFile = join(dir, "vault.json");
    const first = await startAzureKeyVaultEmulator({ stateFile });
    let kekId: string;
    let kekPem: string;
    let keyId: string;
    try {
      const client = keyClient(first.url);
      const kek = await client.createRsaKey("kek", { hsm: true, keySize: 2048, keyOps: ["import"] });
      kekId = kek.id ?? "";
      kekPem = pemOf(publicKeyFromJwk(kek.key));
      const imported = await client.importKey(
        "kept",
        { kty: "RSA-HSM", keyOps: ["decrypt"], t: await opensslByokFile({ kekPem, kekId, target }) },
        { hardwareProtected: true, tags: { "keyferry-version": "1" } },
      );
      keyId = imported.id ?? "";
      await client.createEcKey("gone");
      await (await client.beginDeleteKey("gone")).pollUntilDone();
    } finally {
      await first.close();
    }
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);

    const port = Number(new URL(first.url).port);
    const samePort = await startAzureKeyVaultEmulator({ stateFile, port });
    try {
      expect(samePort.url).toBe(first.url);
      const client = keyClient(samePort.url);
      const kept = await client.getKey("kept");
      expect(kept.id).toBe(keyId);
      expect(kept.properties.tags).toEqual({ "keyferry-version": "1" });
      const publicPem = await opensslPublicPem(target);
      const ciphertext = await opensslOaepEncryptPem(publicPem, Buffer.from("still here"), "sha256");
      const { result } = await cryptoClient(keyId).decrypt({ algorithm: "RSA-OAEP-256", ciphertext });
      expect(Buffer.from(result).toString()).toBe("still here");
      expect((await client.getDeletedKey("gone")).name).toBe("gone");
      // The KEK survived with its private half: it unwraps a new version.
      await client.importKey(
        "kept",
        { kty: "RSA-HSM", keyOps: ["decrypt"], t: await opensslByokFile({ kekPem, kekId, target: second }) },
        { hardwareProtected: true },
      );
    } finally {
      await samePort.close();
    }

    const elsewhere = await startOnAnotherPort(stateFile, first.url);
    try {
      const client = keyClient(elsewhere.url);
      const kept = await client.getKey("kept");
      expect(kept.id?.startsWith(`${elsewhere.url}/keys/kept/`)).toBe(true);
      let count = 0;
      for await (const _ of client.listPropertiesOfKeyVersions("kept")) count++;
      expect(count).toBe(2);
      const ciphertext = await opensslOaepEncryptPem(
        await opensslPublicPem(target),
        Buffer.from("moved"),
        "sha1",
      );
      const moved = keyId.replace(first.url, elsewhere.url);
      const { result } = await cryptoClient(moved).decrypt({ algorithm: "RSA-OAEP", ciphertext });
      expect(Buffer.from(result).toString()).toBe("moved");
      await expectKeyVaultError(
        client.importKey(
          "kept",
          { kty: "RSA-HSM", t: await opensslByokFile({ kekPem, kekId, target }) },
          { hardwareProtected: true },
        ),
        { status: 400, code: "BadParameter", message: /not in this vault/ },
      );
    } finally {
      await elsewhere.close();
    }
  });

  it("refuses to start from a state file that is not its own", async () => {
    const stateFile = join(dir, "corrupt.json");
    await writeFile(stateFile, JSON.stringify({ schemaVersion: 1, keys: [{ name: "x" }], purging: [] }));
    await expect(startAzureKeyVaultEmulator({ stateFile })).rejects.toThrow(/not valid/);
  });

  it("keeps a purged name unusable for purgeDelayMs, as the service's asynchronous purge does", async () => {
    let now = Date.now();
    const emulator = await startAzureKeyVaultEmulator({ purgeDelayMs: 30_000, now: () => now });
    try {
      const client = keyClient(emulator.url);
      await client.createEcKey("recycled");
      await (await client.beginDeleteKey("recycled")).pollUntilDone();
      await client.purgeDeletedKey("recycled");
      await expectKeyVaultError(client.createEcKey("recycled"), {
        status: 409,
        code: "Conflict",
        innerCode: "ObjectIsBeingDeleted",
      });
      await expectKeyVaultError(client.getDeletedKey("recycled"), { status: 404, code: "KeyNotFound" });
      now += 30_000;
      expect((await client.createEcKey("recycled")).name).toBe("recycled");
    } finally {
      await emulator.close();
    }
  });
});

/** Restart from `stateFile` on a port other than the one `previousUrl` used. */
async function startOnAnotherPort(stateFile: string, previousUrl: string): Promise<RunningEmulator> {
  for (;;) {
    const emulator = await startAzureKeyVaultEmulator({ stateFile });
    if (emulator.url !== previousUrl) return emulator;
    await emulator.close();
  }
}

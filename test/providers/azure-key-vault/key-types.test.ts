import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../../src/crypto/key-types.js";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import { aesRoundTrip } from "../../../src/providers/azure-key-vault/aes-check.js";
import { VaultClientCache } from "../../../src/providers/azure-key-vault/clients.js";
import { azureSession, DEFAULT_RETRY } from "../../../src/providers/azure-key-vault/session.js";
import type { KeyToDistribute, Protection, Purpose } from "../../../src/providers/kms-provider.js";
import { TAG_KEY, TAG_KMS, TAG_OPERATION, TAG_VERSION } from "../../../src/providers/tags.js";
import { deletedKeyNames, type Harness, keyNames, makeVersions, rejection, startHarness } from "./helpers.js";

/**
 * Every key type Azure accepts, in HSM and software protection, distributed with BYOK (HSM) or as a JWK
 * (software) and checked through the SDK: key type, curve, operations, tags, one version per keyferry
 * version, no KEK left; AES only on a Managed HSM.
 */

const ASYMMETRIC: ReadonlyArray<[KeyType, Purpose[]]> = [
  ["rsa-2048", ["encrypt", "decrypt", "sign", "verify", "wrap", "unwrap"]],
  ["rsa-3072", ["wrap", "unwrap"]],
  ["rsa-4096", ["sign", "verify"]],
  ["ecdsa-p256", ["sign", "verify"]],
  ["ecdsa-p384", ["sign"]],
  ["ecdsa-p521", ["sign", "verify"]],
];
const KEY_OPS: Record<Purpose, string> = {
  encrypt: "encrypt",
  decrypt: "decrypt",
  sign: "sign",
  verify: "verify",
  wrap: "wrapKey",
  unwrap: "unwrapKey",
};
const CURVES: Partial<Record<KeyType, string>> = {
  "ecdsa-p256": "P-256",
  "ecdsa-p384": "P-384",
  "ecdsa-p521": "P-521",
};

describe("Azure Key Vault provider: key types", () => {
  let vault: Harness;
  let hsm: Harness;
  const materials = new Map<KeyType, Awaited<ReturnType<typeof makeVersions>>>();

  beforeAll(async () => {
    [vault, hsm] = await Promise.all([startHarness(), startHarness({ emulator: { managedHsm: true } })]);
    await Promise.all(
      [...ASYMMETRIC.map(([type]) => type), "aes256-gcm96" as const].map(async (type) =>
        materials.set(type, await makeVersions(type, 2)),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all([vault?.close(), hsm?.close()]);
  });

  const cases = ASYMMETRIC.flatMap(([type, purposes]) =>
    (["hsm", "software"] as const).map((protection) => ({ type, purposes, protection })),
  );

  it.for(cases)("$type $protection: each version imported once, with the right shape and tags", async (c) => {
    const key: KeyToDistribute = {
      name: `${c.type}-${c.protection}`,
      type: c.type,
      purposes: c.purposes,
      protection: c.protection as Protection,
    };
    const versions = materials.get(c.type) ?? [];
    const ctx = vault.context();
    const copy = await vault.provider.distribute(ctx, vault.destination, key, versions);

    expect(copy.remoteName).toBe(key.name);
    expect(copy.versions.map((v) => [v.version, v.state])).toEqual([
      [1, "enabled"],
      [2, "enabled"],
    ]);
    for (const [i, recorded] of copy.versions.entries()) {
      const remote = await vault.vault.getKey(key.name, { version: String(recorded.detail.azureVersion) });
      expect(remote.id).toBe(recorded.remoteId);
      const family = c.type.startsWith("rsa") ? "RSA" : "EC";
      expect(remote.keyType).toBe(c.protection === "hsm" ? `${family}-HSM` : family);
      expect(remote.key?.crv).toBe(CURVES[c.type]);
      expect(remote.keyOperations).toEqual(c.purposes.map((p) => KEY_OPS[p]));
      expect(remote.properties.tags).toEqual({
        [TAG_KEY]: key.name,
        [TAG_VERSION]: String(i + 1),
        [TAG_OPERATION]: ctx.operationId,
        [TAG_KMS]: vault.destination.name,
      });
    }
    // The last import is the current version.
    expect((await vault.vault.getKey(key.name)).id).toBe(copy.versions[1]?.remoteId);
    expect((await vault.provider.verify(vault.context(), vault.destination, key, copy, versions)).ok).toBe(
      true,
    );

    // HSM imports used a KEK, deleted afterwards; software imports need none.
    expect((await keyNames(vault.vault)).filter((name) => name.startsWith("kf-kek-"))).toEqual([]);
    expect((await deletedKeyNames(vault.vault)).includes(`kf-kek-${ctx.operationId}`)).toBe(
      c.protection === "hsm",
    );
  });

  it("AES on a Managed HSM: oct-HSM, verified by a round trip with keyferry's material", async () => {
    const versions = materials.get("aes256-gcm96") ?? [];
    const purposes: Purpose[] = ["encrypt", "decrypt", "wrap", "unwrap"];
    const key: KeyToDistribute = { name: "aes", type: "aes256-gcm96", purposes, protection: "hsm" };
    const copy = await hsm.provider.distribute(hsm.context(), hsm.destination, key, versions);
    const remote = await hsm.vault.getKey(key.name);
    expect(remote.keyType).toBe("oct-HSM");
    expect(remote.keyOperations).toEqual(["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
    expect(await hsm.provider.verify(hsm.context(), hsm.destination, key, copy, versions)).toEqual({
      ok: true,
      versions: [
        { version: 1, ok: true },
        { version: 2, ok: true },
      ],
    });
    // The same versions with their materials swapped: each remote version now faces the other material.
    const swapped = versions.map((v, i) => ({
      ...v,
      withMaterial: versions[1 - i]?.withMaterial ?? v.withMaterial,
    }));
    const mismatch = await hsm.provider.verify(hsm.context(), hsm.destination, key, copy, swapped);
    expect(mismatch.ok).toBe(false);
    expect(mismatch.versions.every((v) => !v.ok)).toBe(true);

    // A key may permit only some operations: each direction of the check, on the same remote version.
    const session = azureSession(
      hsm.context(),
      hsm.destination,
      new VaultClientCache(undefined).get(hsm.destination),
      DEFAULT_RETRY,
    );
    const [v1, v2] = versions;
    if (!v1 || !v2) throw new Error("no versions");
    const latest = await hsm.vault.getKey(key.name);
    for (const only of ["encrypt", "decrypt", "wrapKey", "unwrapKey"] as const) {
      const limited = { ...latest, keyOperations: [only] };
      expect(await aesRoundTrip(session, key.name, limited, v2), only).toBe(true);
      expect(
        await aesRoundTrip(session, key.name, limited, { ...v2, withMaterial: v1.withMaterial }),
        only,
      ).toBe(false);
    }
  });

  it("RSA and EC keys in a Managed HSM are HSM keys; software protection is refused there", async () => {
    const versions = (materials.get("ecdsa-p384") ?? []).slice(0, 1);
    const key: KeyToDistribute = {
      name: "mhsm-ec",
      type: "ecdsa-p384",
      purposes: ["sign"],
      protection: "hsm",
    };
    await hsm.provider.distribute(hsm.context(), hsm.destination, key, versions);
    expect((await hsm.vault.getKey("mhsm-ec")).keyType).toBe("EC-HSM");
    const software = { ...key, name: "mhsm-soft", protection: "software" as const };
    const error = await rejection(
      hsm.provider.distribute(hsm.context(), hsm.destination, software, versions),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ code: "unsupported_protection", status: 422 });
  });

  it("AES in a key vault, and EC for encryption, are refused before any request", async () => {
    const aes: KeyToDistribute = {
      name: "aes",
      type: "aes256-gcm96",
      purposes: ["encrypt"],
      protection: "hsm",
    };
    const before = await keyNames(vault.vault);
    const refused = await rejection(
      vault.provider.distribute(vault.context(), vault.destination, aes, materials.get("aes256-gcm96") ?? []),
    );
    expect(refused).toMatchObject({ code: "unsupported_key_type", status: 422 });
    const ec: KeyToDistribute = {
      name: "ec",
      type: "ecdsa-p256",
      purposes: ["wrap"],
      protection: "software",
    };
    const refusedEc = await rejection(
      vault.provider.distribute(vault.context(), vault.destination, ec, materials.get("ecdsa-p256") ?? []),
    );
    expect(refusedEc).toMatchObject({ code: "unsupported_purposes", status: 422 });
    expect(await keyNames(vault.vault)).toEqual(before);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyToDistribute, RemoteCopy } from "../../../src/providers/kms-provider.js";
import { ProviderError } from "../../../src/providers/provider-error.js";
import { TAG_OPERATION, TAG_VERSION } from "../../../src/providers/tags.js";
import { type Harness, keyNames, makeVersions, rejection, startHarness, versionsOf } from "./helpers.js";

/**
 * The life of one copy, with the vault's state checked through the SDK at each step: distribute → rotate →
 * minimum version → verify → remove → redistribute while the old copy sits soft-deleted; and the purge
 * variant, where the name stays unusable until the purge settles.
 */

describe("Azure Key Vault provider: lifecycle", () => {
  let h: Harness;
  let versions: Awaited<ReturnType<typeof makeVersions>>;
  const key: KeyToDistribute = {
    name: "orders",
    type: "ecdsa-p256",
    purposes: ["sign", "verify"],
    protection: "hsm",
  };

  beforeAll(async () => {
    [h, versions] = await Promise.all([
      startHarness({ kms: { namePrefix: "kf" } }),
      makeVersions("ecdsa-p256", 3),
    ]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("distribute → rotate → min version → verify → remove → redistribute while soft-deleted", async () => {
    const [v1, v2, v3] = versions;
    if (!v1 || !v2 || !v3) throw new Error("no versions");
    const first = h.context();
    let copy: RemoteCopy = await h.provider.distribute(first, h.destination, key, [v1, v2]);
    expect(copy.remoteName).toBe("kf-orders");
    expect((await versionsOf(h.vault, "kf-orders")).length).toBe(2);

    copy = await h.provider.rotate(h.context(), h.destination, key, copy, v3);
    expect(copy.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect((await h.vault.getKey("kf-orders")).id).toBe(copy.versions[2]?.remoteId);
    // A rotation to a version the copy already holds changes nothing.
    expect(await h.provider.rotate(h.context(), h.destination, key, copy, v3)).toEqual(copy);
    expect((await versionsOf(h.vault, "kf-orders")).length).toBe(3);

    copy = await h.provider.setMinEnabledVersion(h.context(), h.destination, key, copy, 3, versions);
    const enabledById = async () =>
      Object.fromEntries(
        (await versionsOf(h.vault, "kf-orders")).map((p) => [p.tags?.[TAG_VERSION], p.enabled]),
      );
    expect(await enabledById()).toEqual({ 1: false, 2: false, 3: true });
    copy = await h.provider.setMinEnabledVersion(h.context(), h.destination, key, copy, 2, versions);
    expect(await enabledById()).toEqual({ 1: false, 2: true, 3: true });
    expect(
      (await h.provider.describe(h.context(), h.destination, key, copy)).versions.map((v) => v.state),
    ).toEqual(["disabled", "enabled", "enabled"]);
    // A disabled version cannot be read; it passes because keyferry disabled it.
    const verified = await h.provider.verify(h.context(), h.destination, key, copy, versions);
    expect(verified.ok).toBe(true);
    expect(verified.versions[0]).toMatchObject({
      version: 1,
      ok: true,
      reason: expect.stringMatching(/disabled/),
    });

    await h.provider.remove(h.context(), h.destination, key, copy);
    await expect(h.vault.getKey("kf-orders")).rejects.toMatchObject({ statusCode: 404 });
    expect((await h.vault.getDeletedKey("kf-orders")).name).toBe("kf-orders");
    const removed = await h.provider.describe(h.context(), h.destination, key, copy);
    expect(removed).toEqual({
      exists: true,
      versions: copy.versions.map(({ version, remoteId }) => ({
        version,
        remoteId,
        state: "pending-deletion",
      })),
    });
    // Removing again finds nothing to delete and succeeds.
    await h.provider.remove(h.context(), h.destination, key, copy);

    const again = h.context();
    const redistributed = await h.provider.distribute(again, h.destination, key, versions);
    expect(redistributed.versions.map((v) => [v.version, v.state])).toEqual([
      [1, "enabled"],
      [2, "enabled"],
      [3, "enabled"],
    ]);
    // Recovered: the three old versions are back but disabled; the three new ones are enabled and current.
    const all = await versionsOf(h.vault, "kf-orders");
    expect(all).toHaveLength(6);
    const enabled = all.filter((p) => p.enabled);
    expect(enabled.map((p) => p.tags?.[TAG_OPERATION])).toEqual([
      again.operationId,
      again.operationId,
      again.operationId,
    ]);
    expect(enabled.map((p) => p.id).sort()).toEqual(redistributed.versions.map((v) => v.remoteId).sort());
    expect((await h.vault.getKey("kf-orders")).id).toBe(redistributed.versions[2]?.remoteId);
    expect((await h.provider.verify(h.context(), h.destination, key, redistributed, versions)).ok).toBe(true);

    const managed = await h.provider.listManaged(h.context(), h.destination);
    const live = managed.filter((m) => m.keyName === key.name && m.state === "enabled");
    expect(live.map((m) => [m.version, m.operationId])).toEqual(
      expect.arrayContaining([
        [1, again.operationId],
        [2, again.operationId],
        [3, again.operationId],
      ]),
    );
    expect(live).toHaveLength(3);
    expect(managed.filter((m) => m.state === "disabled")).toHaveLength(3);
  });

  it("logs names, versions and kids, never material", () => {
    const text = h.logs.join("");
    expect(text).toContain("kf-orders");
    for (const version of versions) {
      for (const encoding of ["base64", "base64url", "hex"] as const) {
        // The private scalar sits at the end of the PKCS#8 structure; any 24 bytes of it would be a leak.
        expect(text).not.toContain(version.material.subarray(-24).toString(encoding));
      }
    }
    expect(text).not.toMatch(/"(key_hsm|t|d|ciphertext)":/);
  });

  it("refuses to write into a name that holds another key's versions", async () => {
    await h.vault.createEcKey("kf-foreign", { curve: "P-256" });
    const foreign: KeyToDistribute = { ...key, name: "foreign" };
    const error = await rejection(h.provider.distribute(h.context(), h.destination, foreign, versions));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "permanent", remoteCode: "NameInUse" });
    expect(await versionsOf(h.vault, "kf-foreign")).toHaveLength(1);
    expect((await keyNames(h.vault)).some((name) => name.startsWith("kf-kek-"))).toBe(false);
  });

  it("a redistribution stopped after the recovery leaves the removed copy unusable", async () => {
    const soft: KeyToDistribute = { ...key, name: "recovered", protection: "software" };
    const copy = await h.provider.distribute(h.context(), h.destination, soft, versions);
    await h.provider.remove(h.context(), h.destination, soft, copy);
    h.emulator.faults.errorNext(1, { operation: "importKey" });
    const ctx = h.context();
    expect(await rejection(h.provider.distribute(ctx, h.destination, soft, versions))).toMatchObject({
      kind: "transient",
    });
    const recovered = await versionsOf(h.vault, "kf-recovered");
    expect(recovered.map((p) => p.enabled)).toEqual([false, false, false]);
    await h.provider.distribute(ctx, h.destination, soft, versions);
    expect((await versionsOf(h.vault, "kf-recovered")).filter((p) => p.enabled)).toHaveLength(3);
  });

  it("rebuilds its clients when the destination's revision changes", async () => {
    const other = await startHarness();
    try {
      const moved = { ...h.destination, keyCollection: other.emulator.url };
      const stale = await h.provider.listManaged(h.context(), moved);
      expect(stale.some((m) => m.keyName === key.name)).toBe(true);
      const fresh = await h.provider.listManaged(h.context(), { ...moved, revision: 2 });
      expect(fresh).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe("Azure Key Vault provider: remove with purge", () => {
  const PURGE_MS = 30_000;
  let h: Harness;
  let versions: Awaited<ReturnType<typeof makeVersions>>;
  const key: KeyToDistribute = {
    name: "ledger",
    type: "ecdsa-p384",
    purposes: ["sign"],
    protection: "software",
  };

  beforeAll(async () => {
    [h, versions] = await Promise.all([
      startHarness({ emulator: { purgeDelayMs: PURGE_MS }, kms: { purgeOnRemove: true } }),
      makeVersions("ecdsa-p384", 1),
    ]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("purges, then redistribution waits (transient) until the purge settles", async () => {
    const copy = await h.provider.distribute(h.context(), h.destination, key, versions);
    await h.provider.remove(h.context(), h.destination, key, copy);
    await expect(h.vault.getDeletedKey("ledger")).rejects.toMatchObject({ statusCode: 404 });
    expect(await h.provider.describe(h.context(), h.destination, key, copy)).toMatchObject({
      exists: false,
      versions: [{ version: 1, state: "deleted" }],
    });

    const ctx = h.context();
    const settling = await rejection(h.provider.distribute(ctx, h.destination, key, versions));
    expect(settling).toMatchObject({
      kind: "transient",
      remoteCode: "ObjectIsBeingDeleted",
      retryable: true,
    });

    h.advance(PURGE_MS);
    const again = await h.provider.distribute(ctx, h.destination, key, versions);
    expect(await versionsOf(h.vault, "ledger")).toHaveLength(1);
    expect((await h.provider.verify(h.context(), h.destination, key, again, versions)).ok).toBe(true);
  });
});

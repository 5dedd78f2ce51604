import { EncryptCommand, ListKeyRotationsCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import type { RemoteCopy } from "../../../src/providers/kms-provider.js";
import {
  aliasTarget,
  type Harness,
  keyState,
  keysTagged,
  liveKeysByVersion,
  makeKey,
  nth,
  startHarness,
  type TestKey,
} from "./helpers.js";

/**
 * distribute → rotate → min version → verify → remove → redistribute, for a key-per-version copy (ECDSA)
 * and a single-key copy (AES), with the remote state read through the SDK at every stage.
 */

describe("AWS KMS provider: lifecycle of an ECDSA key (one KMS key per version)", () => {
  let harness: Harness;
  let test: TestKey;
  let copy: RemoteCopy;

  beforeAll(async () => {
    harness = await startHarness();
    test = await makeKey("ecdsa-p256", ["sign", "verify"], 3);
  });
  afterAll(async () => {
    await harness.close();
  });

  it("distributes v1 and v2, then rotates to v3: a key per version, the alias on the latest", async () => {
    const { provider, destination } = harness;
    copy = await provider.distribute(harness.context(), destination, test.key, test.versions.slice(0, 2));
    copy = await provider.rotate(harness.context(), destination, test.key, copy, nth(test.versions, 2));
    expect(copy.versions.map((version) => version.version)).toEqual([1, 2, 3]);
    expect(new Set(copy.versions.map((version) => version.remoteId)).size).toBe(3);
    expect(await aliasTarget(harness.kms, copy.remoteName)).toBe(copy.versions[2]?.remoteId);
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, test.key.name))).toEqual({
      "1": 1,
      "2": 1,
      "3": 1,
    });
  });

  it("disables the versions below the minimum and enables them again when it is lowered", async () => {
    const { provider, destination } = harness;
    copy = await provider.setMinEnabledVersion(
      harness.context(),
      destination,
      test.key,
      copy,
      3,
      test.versions,
    );
    expect(copy.versions.map((version) => version.state)).toEqual(["disabled", "disabled", "enabled"]);
    expect(
      await Promise.all(copy.versions.map((version) => keyState(harness.kms, version.remoteId))),
    ).toEqual(["Disabled", "Disabled", "Enabled"]);
    expect(
      await provider.verify(harness.context(), destination, test.key, copy, test.versions),
    ).toMatchObject({ ok: true });

    copy = await provider.setMinEnabledVersion(
      harness.context(),
      destination,
      test.key,
      copy,
      2,
      test.versions,
    );
    expect(await keyState(harness.kms, copy.versions[1]?.remoteId ?? "")).toBe("Enabled");
    const state = await provider.describe(harness.context(), destination, test.key, copy);
    expect(state).toEqual({
      exists: true,
      versions: copy.versions.map((version, index) => ({
        version: version.version,
        remoteId: version.remoteId,
        state: index === 0 ? "disabled" : "enabled",
      })),
    });
    expect(
      await provider.verify(harness.context(), destination, test.key, copy, test.versions),
    ).toMatchObject({ ok: true });
  });

  it("reports a copy whose remote key was tampered with", async () => {
    const { provider, destination } = harness;
    const wrong = {
      ...copy,
      versions: copy.versions.map((v) => (v.version === 3 ? { ...v, state: "disabled" as const } : v)),
    };
    const report = await provider.verify(harness.context(), destination, test.key, wrong, test.versions);
    expect(report.ok).toBe(false);
    expect(report.versions[2]).toMatchObject({
      version: 3,
      ok: false,
      reason: expect.stringMatching(/expected disabled/),
    });
  });

  it("removes the copy: keys unusable at once and pending deletion, alias gone; listManaged still sees them", async () => {
    const { provider, destination } = harness;
    await provider.remove(harness.context(), destination, test.key, copy);
    expect(await aliasTarget(harness.kms, copy.remoteName)).toBeUndefined();
    for (const version of copy.versions)
      expect(await keyState(harness.kms, version.remoteId)).toBe("PendingDeletion");
    const state = await provider.describe(harness.context(), destination, test.key, copy);
    expect(state.exists).toBe(false);
    expect(state.versions.map((version) => version.state)).toEqual([
      "pending-deletion",
      "pending-deletion",
      "pending-deletion",
    ]);
    // Repeating the call (a retried step) changes nothing and does not fail.
    await provider.remove(harness.context(), destination, test.key, copy);

    const managed = (await provider.listManaged(harness.context(), destination)).filter(
      (m) => m.keyName === test.key.name,
    );
    expect(managed.map((m) => [m.version, m.state]).sort()).toEqual([
      [1, "pending-deletion"],
      [2, "pending-deletion"],
      [3, "pending-deletion"],
    ]);
  });

  it("redistributes after the remove: new keys, the alias recreated, the old keys left to their deletion", async () => {
    const { provider, destination } = harness;
    const again = await provider.distribute(harness.context(), destination, test.key, test.versions);
    expect(again.versions.map((version) => version.remoteId)).not.toContain(copy.versions[0]?.remoteId);
    expect(await aliasTarget(harness.kms, again.remoteName)).toBe(again.versions[2]?.remoteId);
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, test.key.name))).toEqual({
      "1": 1,
      "2": 1,
      "3": 1,
    });
    expect(await keysTagged(harness.kms, test.key.name)).toHaveLength(6);
    expect(
      await provider.verify(harness.context(), destination, test.key, again, test.versions),
    ).toMatchObject({ ok: true });
    // Removing the old copy once more (a late retry) leaves the new copy's alias alone.
    await provider.remove(harness.context(), destination, test.key, copy);
    expect(await aliasTarget(harness.kms, again.remoteName)).toBe(again.versions[2]?.remoteId);
  });
});

describe("AWS KMS provider: lifecycle of an AES key (one KMS key, one material per version)", () => {
  let harness: Harness;
  let test: TestKey;
  let copy: RemoteCopy;

  beforeAll(async () => {
    harness = await startHarness();
    test = await makeKey("aes256-gcm96", ["encrypt", "decrypt"], 3);
  });
  afterAll(async () => {
    await harness.close();
  });

  it("distributes v1 and v2 and rotates to v3 inside one KMS key", async () => {
    const { provider, destination } = harness;
    copy = await provider.distribute(harness.context(), destination, test.key, test.versions.slice(0, 2));
    copy = await provider.rotate(harness.context(), destination, test.key, copy, nth(test.versions, 2));
    const arns = new Set(copy.versions.map((version) => version.remoteId));
    expect(arns.size).toBe(1);
    const rotations = await harness.kms.send(
      new ListKeyRotationsCommand({ KeyId: [...arns][0], IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
    );
    expect(
      rotations.Rotations?.map((entry) => [entry.KeyMaterialDescription, entry.KeyMaterialState]),
    ).toEqual([
      ["v1", "NON_CURRENT"],
      ["v2", "NON_CURRENT"],
      ["v3", "CURRENT"],
    ]);
    expect(await provider.verify(harness.context(), destination, test.key, copy, test.versions)).toEqual({
      ok: true,
      versions: [1, 2, 3].map((version) => ({ version, ok: true })),
    });
  });

  it("refuses a minimum inside the single key's versions and changes nothing", async () => {
    const { provider, destination } = harness;
    const refused = await provider
      .setMinEnabledVersion(harness.context(), destination, test.key, copy, 2, test.versions)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect(refused).toMatchObject({ code: "min_version_unsupported", status: 422 });
    expect(await keyState(harness.kms, copy.versions[0]?.remoteId ?? "")).toBe("Enabled");
    const unchanged = await provider.setMinEnabledVersion(
      harness.context(),
      destination,
      test.key,
      copy,
      1,
      test.versions,
    );
    expect(unchanged.versions.map((version) => version.state)).toEqual(["enabled", "enabled", "enabled"]);
    expect(
      await provider.verify(harness.context(), destination, test.key, copy, test.versions),
    ).toMatchObject({ ok: true });
  });

  it("removes the copy: the material goes at once, deletion is scheduled, the alias is deleted", async () => {
    const { provider, destination } = harness;
    const arn = copy.versions[0]?.remoteId ?? "";
    await provider.remove(harness.context(), destination, test.key, copy);
    expect(await keyState(harness.kms, arn)).toBe("PendingDeletion");
    expect(await aliasTarget(harness.kms, copy.remoteName)).toBeUndefined();
    const encrypt = harness.kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from("x") }));
    await expect(encrypt).rejects.toMatchObject({ name: "KMSInvalidStateException" });
  });

  it("redistributes into a new key and lists both copies as managed", async () => {
    const { provider, destination } = harness;
    const again = await provider.distribute(harness.context(), destination, test.key, test.versions);
    expect(again.versions[0]?.remoteId).not.toBe(copy.versions[0]?.remoteId);
    expect(await aliasTarget(harness.kms, again.remoteName)).toBe(again.versions[0]?.remoteId);
    expect(
      await provider.verify(harness.context(), destination, test.key, again, test.versions),
    ).toMatchObject({ ok: true });

    const managed = (await provider.listManaged(harness.context(), destination)).filter(
      (m) => m.keyName === test.key.name,
    );
    expect(
      managed
        .map((m) => [m.remoteId === again.versions[0]?.remoteId ? "new" : "old", m.version, m.state])
        .sort(),
    ).toEqual([
      ["new", 1, "enabled"],
      ["new", 2, "enabled"],
      ["new", 3, "enabled"],
      ["old", 1, "pending-deletion"],
    ]);
  });
});

import { ListKeyRotationsCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../../src/crypto/key-types.js";
import type { Purpose } from "../../../src/providers/kms-provider.js";
import { memoryJournal } from "../../helpers/step-journal.js";
import {
  aliasTarget,
  type Harness,
  keyState,
  liveKeysByVersion,
  makeKey,
  nth,
  providerFailure,
  startHarness,
} from "./helpers.js";

/**
 * Every call that is not idempotent (CreateKey, ImportKeyMaterial of new material, RotateKeyOnDemand) is
 * interrupted after the emulator committed it — the answer is an error, or the connection is dropped. The
 * provider call fails with a transient ProviderError; the same call with the same journal then finishes
 * with exactly one KMS key per version, one material per version and one rotation per version.
 */

const MODES = ["drop", "error"] as const;
const ECDSA: { type: KeyType; purposes: Purpose[] } = { type: "ecdsa-p256", purposes: ["sign", "verify"] };
const AES: { type: KeyType; purposes: Purpose[] } = {
  type: "aes256-gcm96",
  purposes: ["encrypt", "decrypt"],
};

describe("AWS KMS provider: resuming after a lost answer", () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  const materialsOf = async (arn: string) =>
    (
      await harness.kms.send(
        new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: "ALL_KEY_MATERIAL" }),
      )
    ).Rotations?.map((entry) => [entry.KeyMaterialDescription, entry.KeyMaterialState]);

  for (const mode of MODES) {
    it(`CreateKey (${mode}) during distribute: the retry adopts the key the lost attempt created`, async () => {
      const { provider, destination } = harness;
      const { key, versions } = await makeKey(ECDSA.type, ECDSA.purposes, 2);
      const ctx = harness.context();
      harness.emulator.faults.failAfterCommitNext(1, { operation: "CreateKey", mode });
      const failure = await providerFailure(provider.distribute(ctx, destination, key, versions));
      expect(failure.kind).toBe("transient");
      expect(ctx.journal.get("aws-kms:create-key:v1")).toMatchObject({ phase: "intent" });
      expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1 });

      const copy = await provider.distribute(ctx, destination, key, versions);
      expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1, "2": 1 });
      expect(ctx.journal.get("aws-kms:create-key:v1")).toMatchObject({
        phase: "done",
        arn: copy.versions[0]?.remoteId,
      });
      expect(await provider.verify(ctx, destination, key, copy, versions)).toMatchObject({ ok: true });
    });

    it(`CreateKey (${mode}) during rotate: one key for the new version`, async () => {
      const { provider, destination } = harness;
      const { key, versions } = await makeKey(ECDSA.type, ECDSA.purposes, 2);
      const copy = await provider.distribute(harness.context(), destination, key, versions.slice(0, 1));
      const ctx = harness.context();
      harness.emulator.faults.failAfterCommitNext(1, { operation: "CreateKey", mode });
      expect(
        (await providerFailure(provider.rotate(ctx, destination, key, copy, nth(versions, 1)))).kind,
      ).toBe("transient");
      // The alias still names v1: the interrupted rotation never got that far.
      expect(await aliasTarget(harness.kms, copy.remoteName)).toBe(copy.versions[0]?.remoteId);

      const rotated = await provider.rotate(ctx, destination, key, copy, nth(versions, 1));
      expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1, "2": 1 });
      expect(await aliasTarget(harness.kms, rotated.remoteName)).toBe(rotated.versions[1]?.remoteId);
      expect(await provider.verify(ctx, destination, key, rotated, versions)).toMatchObject({ ok: true });
    });

    it(`ImportKeyMaterial of new material (${mode}): one material per version, none imported twice`, async () => {
      const { provider, destination } = harness;
      const { key, versions } = await makeKey(AES.type, AES.purposes, 3);
      const ctx = harness.context();
      // v1 first: its import (idempotent) must not take the fault meant for v2's NEW_KEY_MATERIAL import.
      const first = await provider.distribute(ctx, destination, key, versions.slice(0, 1));
      harness.emulator.faults.failAfterCommitNext(1, { operation: "ImportKeyMaterial", mode });
      expect((await providerFailure(provider.distribute(ctx, destination, key, versions))).kind).toBe(
        "transient",
      );
      const arn = first.versions[0]?.remoteId ?? "";
      expect(await materialsOf(arn)).toEqual([
        ["v1", "CURRENT"],
        ["v2", "PENDING_ROTATION"],
      ]);

      const copy = await provider.distribute(ctx, destination, key, versions);
      expect(await materialsOf(arn)).toEqual([
        ["v1", "NON_CURRENT"],
        ["v2", "NON_CURRENT"],
        ["v3", "CURRENT"],
      ]);
      expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1 });
      expect(await provider.verify(ctx, destination, key, copy, versions)).toMatchObject({ ok: true });
    });

    it(`RotateKeyOnDemand (${mode}): exactly one rotation per version`, async () => {
      const { provider, destination } = harness;
      const { key, versions } = await makeKey(AES.type, AES.purposes, 3);
      const copy = await provider.distribute(harness.context(), destination, key, versions.slice(0, 1));
      const arn = copy.versions[0]?.remoteId ?? "";
      const ctx = harness.context();
      harness.emulator.faults.failAfterCommitNext(1, { operation: "RotateKeyOnDemand", mode });
      expect(
        (await providerFailure(provider.rotate(ctx, destination, key, copy, nth(versions, 1)))).kind,
      ).toBe("transient");
      expect(await materialsOf(arn)).toEqual([
        ["v1", "NON_CURRENT"],
        ["v2", "CURRENT"],
      ]);

      const rotated = await provider.rotate(ctx, destination, key, copy, nth(versions, 1));
      const third = await provider.rotate(harness.context(), destination, key, rotated, nth(versions, 2));
      const rotations = await harness.kms.send(new ListKeyRotationsCommand({ KeyId: arn }));
      expect(rotations.Rotations).toHaveLength(2);
      expect(await materialsOf(arn)).toEqual([
        ["v1", "NON_CURRENT"],
        ["v2", "NON_CURRENT"],
        ["v3", "CURRENT"],
      ]);
      expect(await provider.verify(ctx, destination, key, third, versions)).toMatchObject({ ok: true });
    });
  }

  it("recovers when the journal could not record a result: the intent leads to the tagged key", async () => {
    const { provider, destination } = harness;
    const { key, versions } = await makeKey(ECDSA.type, ECDSA.purposes, 1);
    const journal = memoryJournal();
    const put = journal.put;
    let failed = false;
    journal.put = async (entry, value) => {
      if (!failed && value.phase === "done") {
        failed = true;
        throw new Error("the database went away");
      }
      await put(entry, value);
    };
    const ctx = harness.context({ journal });
    await expect(provider.distribute(ctx, destination, key, versions)).rejects.toThrow(/database went away/);
    const copy = await provider.distribute(ctx, destination, key, versions);
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 1 });
    expect(copy.versions[0]?.remoteId).toBe(journal.get("aws-kms:create-key:v1")?.arn);
  });

  it("tells two destinations in one account apart when one operation acts on both", async () => {
    const { provider, destination } = harness;
    const other = {
      ...destination,
      name: "aws-test-b",
      options: { ...destination.options, namePrefix: "b" },
    };
    const { key, versions } = await makeKey(ECDSA.type, ECDSA.purposes, 2);
    const copyA = await provider.distribute(harness.context(), destination, key, versions.slice(0, 1));
    const copyB = await provider.distribute(harness.context(), other, key, versions.slice(0, 1));
    // A rotation fanned out to both destinations under one operation id; B's CreateKey answer is lost.
    const operationId = "op-rotation-fan-out";
    const rotatedA = await provider.rotate(
      harness.context({ operationId }),
      destination,
      key,
      copyA,
      nth(versions, 1),
    );
    const ctxB = harness.context({ operationId });
    harness.emulator.faults.failAfterCommitNext(1, { operation: "CreateKey", mode: "drop" });
    await providerFailure(provider.rotate(ctxB, other, key, copyB, nth(versions, 1)));
    const rotatedB = await provider.rotate(ctxB, other, key, copyB, nth(versions, 1));

    expect(rotatedB.versions[1]?.remoteId).not.toBe(rotatedA.versions[1]?.remoteId);
    expect(await aliasTarget(harness.kms, rotatedB.remoteName)).toBe(rotatedB.versions[1]?.remoteId);
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, key.name))).toEqual({ "1": 2, "2": 2 });
    const managedA = (await provider.listManaged(harness.context(), destination)).filter(
      (m) => m.keyName === key.name,
    );
    expect(managedA.map((m) => m.remoteId).sort()).toEqual(rotatedA.versions.map((v) => v.remoteId).sort());
  });

  it("retries idempotent calls in place: lost answers of every other call go unnoticed by the caller", async () => {
    const { provider, destination, emulator } = harness;
    const { key, versions } = await makeKey(ECDSA.type, ECDSA.purposes, 2);
    const before = emulator.faults.injected.afterCommit;
    const lose = (operation: string, mode: "drop" | "error") =>
      emulator.faults.failAfterCommitNext(1, { operation, mode });
    lose("GetParametersForImport", "drop");
    lose("ImportKeyMaterial", "error");
    lose("CreateAlias", "drop");
    let copy = await provider.distribute(harness.context(), destination, key, versions);
    lose("DisableKey", "drop");
    copy = await provider.setMinEnabledVersion(harness.context(), destination, key, copy, 2, versions);
    expect(await keyState(harness.kms, copy.versions[0]?.remoteId ?? "")).toBe("Disabled");
    expect(await provider.verify(harness.context(), destination, key, copy, versions)).toMatchObject({
      ok: true,
    });
    lose("DeleteImportedKeyMaterial", "drop");
    lose("DeleteAlias", "error");
    lose("ScheduleKeyDeletion", "drop");
    await provider.remove(harness.context(), destination, key, copy);
    expect(emulator.faults.injected.afterCommit - before).toBe(7);
    for (const version of copy.versions)
      expect(await keyState(harness.kms, version.remoteId)).toBe("PendingDeletion");
    expect(await aliasTarget(harness.kms, copy.remoteName)).toBeUndefined();
  });
});

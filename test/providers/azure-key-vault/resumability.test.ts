import type { KeyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyToDistribute, Protection, RemoteCopy } from "../../../src/providers/kms-provider.js";
import { ProviderError } from "../../../src/providers/provider-error.js";
import { TAG_OPERATION, TAG_VERSION } from "../../../src/providers/tags.js";
import {
  deletedKeyNames,
  type Harness,
  keyNames,
  makeVersions,
  rejection,
  startHarness,
  versionsOf,
} from "./helpers.js";

/**
 * Every non-idempotent call (KEK createKey, importKey) interrupted after the vault committed it — the answer
 * lost to a dropped connection or replaced by a 500 — fails the provider call with a transient error; calling
 * again with the same journal finishes with exactly one Azure version per keyferry version and no second KEK.
 * Idempotent calls interrupted the same way are retried in place.
 */

type Versions = Awaited<ReturnType<typeof makeVersions>>;

/** The KEK's versions: it was deleted at the end, so it is recovered to be counted. */
async function kekVersionCount(vault: KeyClient, operationId: string): Promise<number> {
  const name = `kf-kek-${operationId}`;
  expect(await keyNames(vault)).not.toContain(name);
  expect(await deletedKeyNames(vault)).toContain(name);
  await (await vault.beginRecoverDeletedKey(name)).pollUntilDone();
  const count = (await versionsOf(vault, name)).length;
  await vault.beginDeleteKey(name);
  return count;
}

/** Exactly one Azure version per keyferry version, all from this operation, and the copy names them. */
async function expectOneVersionEach(vault: KeyClient, copy: RemoteCopy, operationId: string, count: number) {
  const remote = await versionsOf(vault, copy.remoteName);
  expect(remote.map((p) => p.tags?.[TAG_VERSION]).sort()).toEqual(
    Array.from({ length: count }, (_, i) => String(i + 1)),
  );
  expect(remote.every((p) => p.tags?.[TAG_OPERATION] === operationId && p.enabled)).toBe(true);
  expect(copy.versions.map((v) => v.remoteId).sort()).toEqual(remote.map((p) => p.id).sort());
}

describe("Azure Key Vault provider: resumable steps", () => {
  let h: Harness;
  let versions: Versions;

  beforeAll(async () => {
    [h, versions] = await Promise.all([startHarness(), makeVersions("ecdsa-p256", 3)]);
  });
  afterAll(async () => {
    await h?.close();
  });

  const cases: Array<{ operation: string; mode: "drop" | "error"; protection: Protection }> = [
    { operation: "createKey", mode: "drop", protection: "hsm" },
    { operation: "createKey", mode: "error", protection: "hsm" },
    { operation: "importKey", mode: "drop", protection: "hsm" },
    { operation: "importKey", mode: "error", protection: "hsm" },
    { operation: "importKey", mode: "drop", protection: "software" },
  ];

  it.for(cases)("distribute: $operation answered by $mode after commit, then retried", async (c) => {
    const key: KeyToDistribute = {
      name: `resume-${c.operation}-${c.mode}-${c.protection}`,
      type: "ecdsa-p256",
      purposes: ["sign", "verify"],
      protection: c.protection,
    };
    const ctx = h.context();
    h.emulator.faults.failAfterCommitNext(1, { operation: c.operation, mode: c.mode });

    const failed = await rejection(h.provider.distribute(ctx, h.destination, key, versions));
    expect(failed).toBeInstanceOf(ProviderError);
    expect(failed).toMatchObject({ kind: "transient", retryable: true });

    const copy = await h.provider.distribute(ctx, h.destination, key, versions);
    await expectOneVersionEach(h.vault, copy, ctx.operationId, 3);
    if (c.protection === "hsm") expect(await kekVersionCount(h.vault, ctx.operationId)).toBe(1);
    // Each import's intent was journaled before the import, and its kid as soon as it arrived.
    const importWrites = ctx.journal.writes
      .filter(([entry]) => entry === "azure-import-v1")
      .map(([, v]) => v.state);
    expect(importWrites[0]).toBe("importing");
    expect(importWrites.at(-1)).toBe("imported");
  });

  it.for(["drop", "error"] as const)(
    "rotate: importKey answered by %s after commit, then retried",
    async (mode) => {
      const key: KeyToDistribute = {
        name: `rotate-${mode}`,
        type: "ecdsa-p256",
        purposes: ["sign"],
        protection: "hsm",
      };
      const [v1, v2, v3] = versions;
      if (!v1 || !v2 || !v3) throw new Error("no versions");
      const first = h.context();
      const copy = await h.provider.distribute(first, h.destination, key, [v1, v2]);

      const ctx = h.context();
      h.emulator.faults.failAfterCommitNext(1, { operation: "importKey", mode });
      expect(await rejection(h.provider.rotate(ctx, h.destination, key, copy, v3))).toMatchObject({
        kind: "transient",
      });
      const rotated = await h.provider.rotate(ctx, h.destination, key, copy, v3);

      const remote = await versionsOf(h.vault, key.name);
      expect(remote.map((p) => p.tags?.[TAG_VERSION]).sort()).toEqual(["1", "2", "3"]);
      expect(rotated.versions.map((v) => v.version)).toEqual([1, 2, 3]);
      expect((await h.vault.getKey(key.name)).id).toBe(rotated.versions[2]?.remoteId);
      expect(await kekVersionCount(h.vault, ctx.operationId)).toBe(1);
    },
  );

  it("idempotent calls interrupted after commit are retried in place", async () => {
    const key: KeyToDistribute = {
      name: "resume-idempotent",
      type: "ecdsa-p256",
      purposes: ["sign"],
      protection: "hsm",
    };
    const ctx = h.context();
    h.emulator.faults.failAfterCommitNext(1, { operation: "deleteKey", mode: "drop" });
    const copy = await h.provider.distribute(ctx, h.destination, key, versions);
    await expectOneVersionEach(h.vault, copy, ctx.operationId, 3);
    expect(await deletedKeyNames(h.vault)).toContain(`kf-kek-${ctx.operationId}`);

    h.emulator.faults.failAfterCommitNext(1, { operation: "updateKeyProperties", mode: "error" });
    const limited = await h.provider.setMinEnabledVersion(h.context(), h.destination, key, copy, 3, versions);
    expect(limited.versions.map((v) => v.state)).toEqual(["disabled", "disabled", "enabled"]);

    h.emulator.faults.failAfterCommitNext(1, { operation: "deleteKey", mode: "drop" });
    await h.provider.remove(h.context(), h.destination, key, limited);
    expect(await deletedKeyNames(h.vault)).toContain(key.name);

    h.emulator.faults.failAfterCommitNext(1, { operation: "recoverDeletedKey", mode: "drop" });
    const again = h.context();
    const redistributed = await h.provider.distribute(again, h.destination, key, versions);
    const enabled = (await versionsOf(h.vault, key.name)).filter((p) => p.enabled);
    expect(enabled.map((p) => p.id).sort()).toEqual(redistributed.versions.map((v) => v.remoteId).sort());
    expect(h.emulator.faults.injected.afterCommit).toBeGreaterThanOrEqual(4);
  });
});

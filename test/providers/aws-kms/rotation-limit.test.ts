import { ListKeyRotationsCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RemoteCopy } from "../../../src/providers/kms-provider.js";
import {
  aliasTarget,
  type Harness,
  keyState,
  liveKeysByVersion,
  makeKey,
  nth,
  providerFailure,
  startHarness,
  type TestKey,
} from "./helpers.js";

/**
 * AWS allows 25 on-demand rotations per key. An AES copy keeps v1..v26 in one KMS key (v1 imported, 25
 * rotations), and from v27 on each version gets a KMS key of its own, recorded in the copy's detail. A lost
 * answer at the boundary must not move a version to the wrong side of it.
 */

describe("AWS KMS provider: AES past the 25 on-demand rotations", () => {
  let harness: Harness;
  let test: TestKey;
  let copy: RemoteCopy;
  let singleKeyArn: string;

  beforeAll(async () => {
    harness = await startHarness();
    test = await makeKey("aes256-gcm96", ["encrypt", "decrypt"], 28);
  });
  afterAll(async () => {
    await harness.close();
  });

  it("keeps v26 in the single key even when the rotation's answer was lost and the limit is now reached", async () => {
    const { provider, destination } = harness;
    copy = await provider.distribute(harness.context(), destination, test.key, test.versions.slice(0, 25));
    singleKeyArn = copy.versions[0]?.remoteId ?? "";
    const ctx = harness.context();
    harness.emulator.faults.failAfterCommitNext(1, { operation: "RotateKeyOnDemand", mode: "drop" });
    expect(
      (await providerFailure(provider.rotate(ctx, destination, test.key, copy, nth(test.versions, 25)))).kind,
    ).toBe("transient");
    copy = await provider.rotate(ctx, destination, test.key, copy, nth(test.versions, 25));
    expect(copy.versions.at(-1)?.remoteId).toBe(singleKeyArn);
    expect(copy.detail.fallbackFromVersion).toBeUndefined();
    const rotations = await harness.kms.send(new ListKeyRotationsCommand({ KeyId: singleKeyArn }));
    expect(rotations.Rotations).toHaveLength(25);
  });

  it("gives v27 a key of its own (also when CreateKey's answer was lost) and says so in the copy", async () => {
    const { provider, destination } = harness;
    const ctx = harness.context();
    harness.emulator.faults.failAfterCommitNext(1, { operation: "CreateKey", mode: "error" });
    expect(
      (await providerFailure(provider.rotate(ctx, destination, test.key, copy, nth(test.versions, 26)))).kind,
    ).toBe("transient");
    copy = await provider.rotate(ctx, destination, test.key, copy, nth(test.versions, 26));
    copy = await provider.rotate(harness.context(), destination, test.key, copy, nth(test.versions, 27));
    expect(copy.detail).toMatchObject({
      layout: "single-key",
      singleKeyArn,
      fallbackFromVersion: 27,
      fallbackReason: expect.stringMatching(/25 on-demand rotations/),
    });
    expect(Object.fromEntries(await liveKeysByVersion(harness.kms, test.key.name))).toEqual({
      "1": 1,
      "27": 1,
      "28": 1,
    });
    expect(await aliasTarget(harness.kms, copy.remoteName)).toBe(copy.versions.at(-1)?.remoteId);
    expect(
      await provider.verify(harness.context(), destination, test.key, copy, test.versions),
    ).toMatchObject({ ok: true });
  });

  it("disables the single key once all its versions are below the minimum", async () => {
    const { provider, destination } = harness;
    await expect(
      provider.setMinEnabledVersion(harness.context(), destination, test.key, copy, 20, test.versions),
    ).rejects.toMatchObject({ code: "min_version_unsupported" });
    copy = await provider.setMinEnabledVersion(
      harness.context(),
      destination,
      test.key,
      copy,
      27,
      test.versions,
    );
    expect(await keyState(harness.kms, singleKeyArn)).toBe("Disabled");
    expect(await keyState(harness.kms, copy.versions.at(-1)?.remoteId ?? "")).toBe("Enabled");
    const state = await provider.describe(harness.context(), destination, test.key, copy);
    expect(state.versions.filter((version) => version.state === "disabled")).toHaveLength(26);
    expect(
      await provider.verify(harness.context(), destination, test.key, copy, test.versions),
    ).toMatchObject({ ok: true });

    const managed = (await provider.listManaged(harness.context(), destination)).filter(
      (m) => m.keyName === test.key.name,
    );
    expect(managed).toHaveLength(28);
    expect(managed.filter((m) => m.remoteId === singleKeyArn).every((m) => m.state === "disabled")).toBe(
      true,
    );
  });
});

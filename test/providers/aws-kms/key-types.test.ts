import { GetPublicKeyCommand, ListKeyRotationsCommand } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../../src/crypto/key-types.js";
import type { Purpose } from "../../../src/providers/kms-provider.js";
import { aliasTarget, type Harness, keysTagged, makeKey, startHarness, type TestKey } from "./helpers.js";

/**
 * Every key type AWS KMS accepts, each with a purpose set it can honour: two versions distributed, the
 * remote keys checked through the SDK (spec, usage, origin, tags, public keys, materials, alias), then
 * verified by the provider.
 */

const CASES: Array<{ type: KeyType; purposes: Purpose[]; keySpec: string; keyUsage: string }> = [
  {
    type: "aes256-gcm96",
    purposes: ["encrypt", "decrypt", "wrap", "unwrap"],
    keySpec: "SYMMETRIC_DEFAULT",
    keyUsage: "ENCRYPT_DECRYPT",
  },
  { type: "rsa-2048", purposes: ["encrypt", "decrypt"], keySpec: "RSA_2048", keyUsage: "ENCRYPT_DECRYPT" },
  { type: "rsa-3072", purposes: ["sign", "verify"], keySpec: "RSA_3072", keyUsage: "SIGN_VERIFY" },
  { type: "rsa-4096", purposes: ["wrap", "unwrap"], keySpec: "RSA_4096", keyUsage: "ENCRYPT_DECRYPT" },
  { type: "ecdsa-p256", purposes: ["sign", "verify"], keySpec: "ECC_NIST_P256", keyUsage: "SIGN_VERIFY" },
  { type: "ecdsa-p384", purposes: ["sign"], keySpec: "ECC_NIST_P384", keyUsage: "SIGN_VERIFY" },
  { type: "ecdsa-p521", purposes: ["verify"], keySpec: "ECC_NIST_P521", keyUsage: "SIGN_VERIFY" },
];

describe("AWS KMS provider: every key type", () => {
  let harness: Harness;
  const keys = new Map<KeyType, TestKey>();

  beforeAll(async () => {
    harness = await startHarness();
    await Promise.all(
      CASES.map(async ({ type, purposes }) => keys.set(type, await makeKey(type, purposes, 2))),
    );
  });
  afterAll(async () => {
    await harness.close();
  });

  for (const { type, keySpec, keyUsage } of CASES) {
    it(`distributes ${type} as ${keySpec} / ${keyUsage} and verifies it`, async () => {
      const { key, versions, materials } = keys.get(type) as TestKey;
      const ctx = harness.context();
      const copy = await harness.provider.distribute(ctx, harness.destination, key, versions);

      expect(copy.remoteName).toBe(`alias/keyferry/${key.name}`);
      expect(copy.versions.map((version) => [version.version, version.state])).toEqual([
        [1, "enabled"],
        [2, "enabled"],
      ]);
      const remote = await keysTagged(harness.kms, key.name);
      for (const { metadata, tags } of remote) {
        expect(metadata).toMatchObject({
          KeySpec: keySpec,
          KeyUsage: keyUsage,
          Origin: "EXTERNAL",
          KeyState: "Enabled",
        });
        expect(metadata.ExpirationModel).toBe("KEY_MATERIAL_DOES_NOT_EXPIRE");
        expect(tags).toMatchObject({
          "keyferry:key": key.name,
          "keyferry:operation": ctx.operationId,
          "keyferry:kms": harness.destination.name,
        });
      }
      const latest = copy.versions.at(-1);
      expect(await aliasTarget(harness.kms, copy.remoteName)).toBe(latest?.remoteId);

      if (type === "aes256-gcm96") {
        // One KMS key for all versions: v2 is new material made current by an on-demand rotation.
        expect(remote).toHaveLength(1);
        expect(copy.detail).toMatchObject({ layout: "single-key", singleKeyArn: remote[0]?.metadata.Arn });
        const rotations = await harness.kms.send(
          new ListKeyRotationsCommand({
            KeyId: remote[0]?.metadata.KeyId,
            IncludeKeyMaterial: "ALL_KEY_MATERIAL",
          }),
        );
        expect(
          rotations.Rotations?.map((entry) => [entry.KeyMaterialDescription, entry.KeyMaterialState]),
        ).toEqual([
          ["v1", "NON_CURRENT"],
          ["v2", "CURRENT"],
        ]);
        expect(remote[0]?.metadata.CurrentKeyMaterialId).toBe(latest?.detail.keyMaterialId);
      } else {
        // Asymmetric material cannot change: one KMS key per version, tagged with it.
        expect(remote.map(({ tags }) => tags["keyferry:version"]).sort()).toEqual(["1", "2"]);
        for (const version of copy.versions) {
          const publicKey = await harness.kms.send(new GetPublicKeyCommand({ KeyId: version.remoteId }));
          expect(
            Buffer.from(publicKey.PublicKey ?? []).equals(
              versions[version.version - 1]?.publicKey ?? Buffer.alloc(0),
            ),
          ).toBe(true);
        }
      }

      const report = await harness.provider.verify(ctx, harness.destination, key, copy, versions);
      expect(report).toEqual({
        ok: true,
        versions: [
          { version: 1, ok: true },
          { version: 2, ok: true },
        ],
      });

      // Logs name operations, keys, versions and ARNs; never material (in any encoding).
      const logged = JSON.stringify(harness.logs);
      for (const material of materials) {
        expect(logged).not.toContain(material.toString("base64"));
        expect(logged).not.toContain(material.toString("hex"));
      }
    });
  }

  it("writes log lines with names and ids only", () => {
    const allowed = new Set([
      "level",
      "time",
      "pid",
      "hostname",
      "name",
      "msg",
      "op",
      "kms",
      "key",
      "version",
      "arn",
      "arns",
      "kind",
      "remoteCode",
      "attempt",
      "delayMs",
      "revision",
      "region",
    ]);
    expect(harness.logs.length).toBeGreaterThan(0);
    for (const line of harness.logs) for (const field of Object.keys(line)) expect(allowed).toContain(field);
  });
});

import { randomBytes } from "node:crypto";
import {
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetPublicKeyCommand,
  type KMSClient,
} from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../../src/crypto/key-types.js";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import { checkProviderOptions, kmsOptionsSchema } from "../../../src/kms/options.js";
import type {
  KmsDestination,
  Purpose,
  RemoteCopy,
  RemoteVersion,
} from "../../../src/providers/kms-provider.js";
import { kmsClient } from "../../emulators/aws-kms/helpers.js";
import { memoryJournal } from "../../helpers/step-journal.js";
import {
  aliasTarget,
  type Harness,
  keysTagged,
  makeKey,
  nth,
  providerFailure,
  REGION,
  startHarness,
  type TestKey,
} from "./helpers.js";

/**
 * Replication of copies to other regions of the account (`replicaRegions`): every KMS key keyferry makes is a
 * multi-Region primary with a replica in each replica region holding the same imported material; rotation,
 * min-version and remove act in every region; a lost ReplicateKey or replica import answer is resumed with the
 * same journal without a second replica.
 */

const REPLICAS = ["us-east-1", "ap-southeast-2"] as const;
const ALL = [REGION, ...REPLICAS];

const replicasOf = (version: RemoteVersion | undefined) =>
  (version?.detail.replicas ?? {}) as Record<string, string>;

describe("AWS KMS provider: multi-Region replicas", () => {
  let harness: Harness;
  let destination: KmsDestination;
  const clients = new Map<string, KMSClient>();
  const kms = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = kmsClient(harness.emulator.url, { region });
      clients.set(region, client);
    }
    return client;
  };

  beforeAll(async () => {
    harness = await startHarness();
    destination = {
      ...harness.destination,
      name: "aws-replicated",
      options: { endpoint: harness.emulator.url, pendingWindowDays: 7, replicaRegions: [...REPLICAS] },
    };
  });
  afterAll(async () => {
    for (const client of clients.values()) client.destroy();
    await harness.close();
  });

  /** Keys tagged for `keyName` per region that are not pending deletion. */
  const liveIn = async (region: string, keyName: string) =>
    (await keysTagged(kms(region), keyName)).filter(
      ({ metadata }) =>
        metadata.KeyState !== "PendingDeletion" && metadata.KeyState !== "PendingReplicaDeletion",
    );
  const stateIn = async (region: string, arn: string) =>
    (await kms(region).send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata?.KeyState;

  const CASES: Array<{ type: KeyType; purposes: Purpose[] }> = [
    { type: "aes256-gcm96", purposes: ["encrypt", "decrypt"] },
    { type: "ecdsa-p256", purposes: ["sign", "verify"] },
  ];

  for (const { type, purposes } of CASES) {
    describe(`${type}: distribute, rotate, min-version, remove`, () => {
      let test: TestKey;
      let copy: RemoteCopy;

      beforeAll(async () => {
        test = await makeKey(type, purposes, 2);
      });

      it("distribute: the same key in every region, aliases everywhere, verify ok", async () => {
        const ctx = harness.context();
        copy = await harness.provider.distribute(ctx, destination, test.key, test.versions.slice(0, 1));
        const v1 = nth(copy.versions, 0);
        expect(v1.remoteId).toMatch(new RegExp(`^arn:aws:kms:${REGION}:\\d{12}:key/mrk-`));
        expect(Object.keys(replicasOf(v1)).sort()).toEqual([...REPLICAS].sort());
        for (const region of ALL) {
          const arn = region === REGION ? v1.remoteId : replicasOf(v1)[region];
          expect(arn).toContain(`:${region}:`);
          expect(await stateIn(region, arn ?? "")).toBe("Enabled");
          expect(await aliasTarget(kms(region), copy.remoteName)).toBe(arn);
          const live = await liveIn(region, test.key.name);
          expect(live.map(({ tags }) => tags["keyferry:version"])).toEqual(["1"]);
        }
        if (type === "aes256-gcm96") {
          // Encrypt in one region, decrypt in each of the others.
          const plaintext = randomBytes(24);
          const sealed = await kms(REPLICAS[0]).send(
            new EncryptCommand({ KeyId: copy.remoteName, Plaintext: plaintext }),
          );
          for (const region of [REGION, REPLICAS[1]]) {
            const opened = await kms(region).send(
              new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }),
            );
            expect(Buffer.from(opened.Plaintext ?? new Uint8Array()).equals(plaintext)).toBe(true);
          }
        } else {
          for (const region of ALL) {
            const answer = await kms(region).send(new GetPublicKeyCommand({ KeyId: copy.remoteName }));
            expect(
              Buffer.from(answer.PublicKey ?? new Uint8Array()).equals(
                nth(test.versions, 0).publicKey ?? Buffer.alloc(0),
              ),
            ).toBe(true);
          }
        }
        expect(
          await harness.provider.verify(ctx, destination, test.key, copy, test.versions.slice(0, 1)),
        ).toMatchObject({ ok: true });
      });

      it("rotate: v2 in every region and every alias moves to it", async () => {
        copy = await harness.provider.rotate(
          harness.context(),
          destination,
          test.key,
          copy,
          nth(test.versions, 1),
        );
        const v2 = nth(copy.versions, 1);
        for (const region of ALL) {
          const arn = region === REGION ? v2.remoteId : replicasOf(v2)[region];
          expect(await aliasTarget(kms(region), copy.remoteName)).toBe(arn);
          const live = await liveIn(region, test.key.name);
          expect(live.map(({ tags }) => tags["keyferry:version"]).sort()).toEqual(["1", "2"]);
        }
        expect(
          await harness.provider.verify(harness.context(), destination, test.key, copy, test.versions),
        ).toMatchObject({
          ok: true,
        });
      });

      it("min-version 2: v1 disabled in every region, v2 enabled", async () => {
        copy = await harness.provider.setMinEnabledVersion(
          harness.context(),
          destination,
          test.key,
          copy,
          2,
          test.versions,
        );
        const [v1, v2] = [nth(copy.versions, 0), nth(copy.versions, 1)];
        for (const region of ALL) {
          expect(
            await stateIn(region, region === REGION ? v1.remoteId : (replicasOf(v1)[region] ?? "")),
          ).toBe("Disabled");
          expect(
            await stateIn(region, region === REGION ? v2.remoteId : (replicasOf(v2)[region] ?? "")),
          ).toBe("Enabled");
        }
        expect(
          await harness.provider.verify(harness.context(), destination, test.key, copy, test.versions),
        ).toMatchObject({
          ok: true,
        });
      });

      it("remove: replicas pending deletion, primaries waiting for them, aliases gone everywhere", async () => {
        await harness.provider.remove(harness.context(), destination, test.key, copy);
        // A retried step changes nothing and does not fail.
        await harness.provider.remove(harness.context(), destination, test.key, copy);
        for (const version of copy.versions) {
          expect(await stateIn(REGION, version.remoteId)).toBe("PendingReplicaDeletion");
          for (const region of REPLICAS) {
            expect(await stateIn(region, replicasOf(version)[region] ?? "")).toBe("PendingDeletion");
          }
        }
        for (const region of ALL) expect(await aliasTarget(kms(region), copy.remoteName)).toBeUndefined();
      });
    });
  }

  for (const operation of ["ReplicateKey", "ImportKeyMaterial"] as const) {
    it(`a lost ${operation} answer: the retry with the same journal leaves one replica per region`, async () => {
      const test = await makeKey("aes256-gcm96", ["encrypt", "decrypt"], 1);
      const ctx = harness.context({ journal: memoryJournal() });
      // The fault is armed as the provider sends the request: for ImportKeyMaterial the second one (the first
      // replica's; the first is the primary's).
      let sent = 0;
      const armed = {
        ...ctx,
        beforeCall: async (name: string) => {
          if (name !== operation) return;
          sent += 1;
          if (sent === (operation === "ImportKeyMaterial" ? 2 : 1)) {
            harness.emulator.faults.failAfterCommitNext(1, { operation, mode: "drop" });
          }
        },
      };
      const first = harness.provider.distribute(armed, destination, test.key, test.versions);
      if (operation === "ReplicateKey") {
        // Not idempotent: the call fails and the journal keeps the intent for the retry.
        expect((await providerFailure(first)).kind).toBe("transient");
        expect(ctx.journal.get(`aws-kms:replicate:v1:${REPLICAS[0]}`)).toMatchObject({ phase: "intent" });
      } else {
        // Importing the same material again is accepted, so the provider repeats it in place.
        await first;
        expect(sent).toBe(ALL.length + 1);
      }

      const copy = await harness.provider.distribute(ctx, destination, test.key, test.versions);
      for (const region of ALL) expect(await liveIn(region, test.key.name)).toHaveLength(1);
      expect(ctx.journal.get(`aws-kms:replicate:v1:${REPLICAS[0]}`)).toMatchObject({
        phase: "done",
        arn: replicasOf(copy.versions[0])[REPLICAS[0]],
      });
      expect(await harness.provider.verify(ctx, destination, test.key, copy, test.versions)).toMatchObject({
        ok: true,
      });
    });
  }

  it("refuses what it cannot do, with a 422 naming the rule", () => {
    const aes = {
      name: "k",
      type: "aes256-gcm96" as const,
      purposes: ["encrypt" as const],
      protection: "hsm" as const,
    };
    const refused = (options: KmsDestination["options"]) => {
      try {
        harness.provider.checkSupport({ ...destination, options }, aes);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const single = refused({ replicaRegions: ["us-east-1"], awsSymmetricLayout: "single-key" });
    expect(single).toBeInstanceOf(InvalidInputError);
    expect((single as InvalidInputError).code).toBe("unsupported_replication");
    expect((refused({ replicaRegions: [REGION] }) as InvalidInputError).code).toBe("invalid_replica_regions");
    expect((refused({ replicaRegions: ["us-east-1", "us-east-1"] }) as InvalidInputError).code).toBe(
      "invalid_replica_regions",
    );
    expect(kmsOptionsSchema.safeParse({ replicaRegions: ["us-east-1", "us-east-1"] }).success).toBe(false);
    expect(kmsOptionsSchema.safeParse({ replicaRegions: ["not a region"] }).success).toBe(false);
    expect(() => checkProviderOptions("azurekeyvault", "vault", { replicaRegions: ["us-east-1"] })).toThrow(
      InvalidInputError,
    );
    expect(() => checkProviderOptions("awskms", REGION, { replicaRegions: [REGION] })).toThrow(/own region/);
  });
});

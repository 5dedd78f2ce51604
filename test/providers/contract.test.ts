import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_TYPES, type KeyType } from "../../src/crypto/key-types.js";
import type { Provider } from "../../src/db/schema/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { createLogger } from "../../src/logger.js";
import type {
  KeyToDistribute,
  KmsDestination,
  KmsProvider,
  ProviderContext,
  RemoteCopy,
  VersionSource,
} from "../../src/providers/kms-provider.js";
import { memoryJournal } from "../helpers/step-journal.js";
import {
  cloudAccepts,
  destination,
  makeVersions,
  naturalPurposes,
  PURPOSE_SETS,
} from "./contract-fixtures.js";

/**
 * One suite, run unchanged against every provider on its emulator (issue 4): what each cloud accepts,
 * and the whole life of a copy for every key type the cloud takes.
 */
const logger = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));

interface Cloud {
  provider: Provider;
  start(): Promise<{ emulators: RunningEmulator[]; destinations: KmsDestination[]; kms: KmsProvider }>;
}

const CLOUDS: Cloud[] = [
  {
    provider: "awskms",
    async start() {
      const { startAwsKmsEmulator } = await import("../../src/emulators/aws-kms/index.js");
      const { createAwsKmsProvider } = await import("../../src/providers/aws-kms/index.js");
      const emulator = await startAwsKmsEmulator();
      return {
        emulators: [emulator],
        destinations: [destination("awskms", "aws-contract", emulator.url)],
        kms: createAwsKmsProvider({ logger }),
      };
    },
  },
  {
    provider: "azurekeyvault",
    async start() {
      const { startAzureKeyVaultEmulator } = await import("../../src/emulators/azure-key-vault/index.js");
      const { createAzureKeyVaultProvider } = await import("../../src/providers/azure-key-vault/index.js");
      const vault = await startAzureKeyVaultEmulator();
      const managedHsm = await startAzureKeyVaultEmulator({ managedHsm: true });
      return {
        emulators: [vault, managedHsm],
        destinations: [
          destination("azurekeyvault", "azure-contract", vault.url),
          destination("azurekeyvault", "azure-contract-mhsm", managedHsm.url, { managedHsm: true }),
        ],
        kms: createAzureKeyVaultProvider({ logger }),
      };
    },
  },
];

const context = (operationId: string): ProviderContext => ({ operationId, journal: memoryJournal(), logger });

describe.each(CLOUDS)("KmsProvider contract: $provider", ({ provider, start }) => {
  let running: Awaited<ReturnType<Cloud["start"]>>;
  beforeAll(async () => {
    running = await start();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(running?.emulators.map((e) => e.close()) ?? []);
  });

  /** The destination a key type goes to: AES on Azure needs the Managed HSM. */
  const destinationFor = (type: KeyType): KmsDestination => {
    const wantsHsm = provider === "azurekeyvault" && type === "aes256-gcm96";
    const found = running.destinations.find((d) => (d.options.managedHsm === true) === wantsHsm);
    if (!found) throw new Error("no destination");
    return found;
  };

  it("accepts exactly the key types and purposes the cloud can honour, and names the rule otherwise", () => {
    for (const dest of running.destinations) {
      const cloud = dest.options.managedHsm ? "azurekeyvault-managed-hsm" : provider;
      for (const type of KEY_TYPES) {
        for (const purposes of PURPOSE_SETS) {
          const key: KeyToDistribute = { name: "matrix", type, purposes, protection: "hsm" };
          const attempt = () => running.kms.checkSupport(dest, key);
          if (cloudAccepts(cloud, type, purposes)) {
            expect(attempt, `${dest.name} ${type} ${purposes.join(",")}`).not.toThrow();
          } else {
            let error: unknown;
            try {
              attempt();
            } catch (e) {
              error = e;
            }
            expect(error, `${dest.name} ${type} ${purposes.join(",")} must be refused`).toMatchObject({
              status: 422,
              code: expect.any(String),
              message: expect.stringMatching(/.{20,}/),
            });
          }
        }
      }
    }
  });

  const lifecycleTypes = KEY_TYPES.filter((type) =>
    cloudAccepts(
      provider === "azurekeyvault" && type === "aes256-gcm96" ? "azurekeyvault-managed-hsm" : provider,
      type,
      naturalPurposes(type),
    ),
  );

  it.for(lifecycleTypes)(
    "%s: distribute → verify → rotate → min version → remove → redistribute → verify",
    { timeout: 240_000 },
    async (type) => {
      const dest = destinationFor(type);
      const key: KeyToDistribute = {
        name: `contract-${type}`,
        type,
        purposes: naturalPurposes(type),
        protection: "hsm",
      };
      const versions: VersionSource[] = await makeVersions(type, 2);
      const [v1, v2] = versions as [VersionSource, VersionSource];

      let copy: RemoteCopy = await running.kms.distribute(context("op-distribute"), dest, key, [v1]);
      expect(copy.remoteName).toBeTruthy();
      expect(copy.versions.map((v) => [v.version, v.state])).toEqual([[1, "enabled"]]);
      expect((await running.kms.verify(context("op-verify-1"), dest, key, copy, [v1])).ok).toBe(true);

      copy = await running.kms.rotate(context("op-rotate"), dest, key, copy, v2);
      expect(copy.versions.map((v) => v.version)).toEqual([1, 2]);
      // One remote object per version on both clouds (AWS AES keys too, by default: see KmsOptions).
      expect(new Set(copy.versions.map((v) => v.remoteId)).size).toBe(2);
      const verified = await running.kms.verify(context("op-verify-2"), dest, key, copy, versions);
      expect(verified).toMatchObject({ ok: true });

      copy = await running.kms.setMinEnabledVersion(context("op-min"), dest, key, copy, 2, versions);
      const afterMin = await running.kms.describe(context("op-describe-1"), dest, key, copy);
      expect(afterMin.exists).toBe(true);
      expect(afterMin.versions.map((v) => [v.version, v.state])).toEqual([
        [1, "disabled"],
        [2, "enabled"],
      ]);

      await running.kms.remove(context("op-remove"), dest, key, copy);
      const removed = await running.kms.describe(context("op-describe-2"), dest, key, copy);
      // The copy stops working at once: no version is usable any more.
      expect(removed.versions.some((v) => v.state === "enabled")).toBe(false);

      const again = await running.kms.distribute(context("op-redistribute"), dest, key, versions);
      expect(again.versions.map((v) => [v.version, v.state])).toEqual([
        [1, "enabled"],
        [2, "enabled"],
      ]);
      expect((await running.kms.verify(context("op-verify-3"), dest, key, again, versions)).ok).toBe(true);

      const managed = await running.kms.listManaged(context("op-list"), dest);
      const live = managed.filter((m) => m.keyName === key.name && m.state === "enabled");
      expect(live.map((m) => m.version).sort()).toEqual([1, 2]);
    },
  );

  it("asks the engine's rate limiter before every cloud request, naming the cloud's operation", async () => {
    const type: KeyType = "ecdsa-p256";
    const dest = destinationFor(type);
    const key: KeyToDistribute = {
      name: "contract-limited",
      type,
      purposes: naturalPurposes(type),
      protection: "hsm",
    };
    const [v1] = await makeVersions(type, 1);
    if (!v1) throw new Error("no version");
    const asked: string[] = [];
    const ctx = {
      ...context("op-limited"),
      beforeCall: async (operation: string) => void asked.push(operation),
    };
    await running.kms.distribute(ctx, dest, key, [v1]);
    expect(asked).toEqual(
      expect.arrayContaining(
        provider === "awskms" ? ["CreateKey", "GetParametersForImport", "ImportKeyMaterial"] : ["importKey"],
      ),
    );
  });

  it("verification notices a copy that holds other material", async () => {
    const type: KeyType = provider === "awskms" ? "ecdsa-p256" : "rsa-2048";
    const dest = destinationFor(type);
    const key: KeyToDistribute = {
      name: `contract-mismatch-${type}`,
      type,
      purposes: naturalPurposes(type),
      protection: "hsm",
    };
    const [ours] = await makeVersions(type, 1);
    const [other] = await makeVersions(type, 1);
    if (!ours || !other) throw new Error("no versions");
    const copy = await running.kms.distribute(context("op-mismatch"), dest, key, [ours]);
    const report = await running.kms.verify(context("op-mismatch-verify"), dest, key, copy, [other]);
    expect(report.ok).toBe(false);
    expect(report.versions[0]).toMatchObject({ version: 1, ok: false });
  });
});

import {
  CreateKeyCommand,
  DeleteImportedKeyMaterialCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import type { KeyClient } from "@azure/keyvault-keys";
import { and, eq, ne } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../src/crypto/key-types.js";
import { distributions, distributionVersions, kms, ledgerEntries } from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { chainAll } from "../../src/ledger/chain.js";
import { verifyLedger } from "../../src/ledger/verify.js";
import { acceptOperation } from "../../src/operations/intake.js";
import type { CompareResult } from "../../src/operations/reconcile-compare.js";
import type { HealOutcome } from "../../src/operations/reconcile-heal.js";
import { runOperation } from "../../src/operations/run.js";
import { useTestDatabase } from "../helpers/database.js";
import { aliasTarget, keyState, liveKeysByVersion } from "../providers/aws-kms/helpers.js";
import { vaultClient, versionsOf } from "../providers/azure-key-vault/helpers.js";
import { accept, acceptCreate, type Engine, runToEnd, startEngine, stepsOf } from "./helpers.js";

/**
 * Drift detection and repair against both emulators, changed behind keyferry's back through the official
 * SDKs as an operator would in the cloud console. Every test works on destinations of its own (AWS copies are
 * told apart by their `keyferry:kms` tag, Azure ones by the destination's name prefix), so each reconcile
 * sees only its own drift.
 */
const database = useTestDatabase();
let engine: Engine;
let aws: KMSClient;
let vault: KeyClient;
/** A second AWS emulator on a clock the tests move, so that a deletion's waiting period can pass. */
let clocked: RunningEmulator;
let clockedAws: KMSClient;
let skewMs = 0;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  engine = await startEngine(database().db);
  clocked = await startAwsKmsEmulator({ now: () => Date.now() + skewMs });
  const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" };
  aws = new KMSClient({ endpoint: engine.aws.url, region: "eu-west-1", credentials });
  clockedAws = new KMSClient({ endpoint: clocked.url, region: "eu-west-1", credentials });
  vault = vaultClient(engine.azure.url);
}, 60_000);
afterAll(async () => {
  aws?.destroy();
  clockedAws?.destroy();
  await clocked?.close();
  await engine?.close();
});

interface Dest {
  id: string;
  name: string;
}
interface Key {
  id: string;
  name: string;
}

async function destination(kind: "aws" | "azure", name: string, endpoint?: string): Promise<Dest> {
  const values =
    kind === "aws"
      ? {
          name,
          provider: "awskms" as const,
          keyCollection: "eu-west-1",
          options: { endpoint: endpoint ?? engine.aws.url, pendingWindowDays: 7 },
        }
      : {
          name,
          provider: "azurekeyvault" as const,
          keyCollection: engine.azure.url,
          options: { namePrefix: name },
        };
  const [row] = await database().db.insert(kms).values(values).returning();
  if (!row) throw new Error("no kms row");
  return { id: row.id, name };
}

async function succeed(id: string): Promise<void> {
  expect(await runToEnd(engine.deps, id)).toEqual({ kind: "finished", state: "succeeded" });
}

/** A key with `versions` versions, distributed to each destination (Azure: software, no KEK to make). */
async function distributedKey(name: string, dests: Dest[], versions = 1, type: KeyType = "ecdsa-p256") {
  const { db } = database();
  const { keyId, operationId } = await acceptCreate(db, name, type);
  await succeed(operationId);
  const key: Key = { id: keyId, name };
  for (const dest of dests) {
    const azure = dest.name.startsWith("az");
    const purposes = type === "aes256-gcm96" ? ["encrypt", "decrypt"] : ["sign", "verify"];
    const input = { purposes, protection: azure ? "software" : "hsm" };
    await succeed(await accept(db, "distribute", key, { kms: dest, input }));
  }
  for (let v = 2; v <= versions; v++) await succeed(await accept(db, "rotate", key));
  return key;
}

async function copyOf(key: Key, dest: Dest) {
  const { db } = database();
  const [row] = await db
    .select()
    .from(distributions)
    .where(
      and(
        eq(distributions.keyId, key.id),
        eq(distributions.kmsId, dest.id),
        ne(distributions.state, "removed"),
      ),
    );
  if (!row) throw new Error(`no copy of ${key.name} in ${dest.name}`);
  const rows = await db
    .select()
    .from(distributionVersions)
    .where(eq(distributionVersions.distributionId, row.id));
  const versions = Object.fromEntries(rows.map((r) => [r.version, { remoteId: r.remoteId, state: r.state }]));
  return { remoteName: row.remoteName ?? "", versions };
}

function remoteIdOf(copy: Awaited<ReturnType<typeof copyOf>>, version: number): string {
  const found = copy.versions[version];
  if (!found) throw new Error(`no v${version}`);
  return found.remoteId;
}

async function acceptReconcile(dest: Dest, heal: boolean): Promise<string> {
  const op = await database().db.transaction((tx) =>
    acceptOperation(tx, {
      type: "reconcile",
      kmsId: dest.id,
      input: { heal },
      actor: "test",
      kmsName: dest.name,
    }),
  );
  return op.id;
}

interface Reconciled {
  id: string;
  compare: CompareResult;
  recheck: CompareResult | undefined;
  heals: HealOutcome[];
  steps: Array<{ name: string; state: string; attempts: number }>;
}

async function reconcile(dest: Dest, heal: boolean): Promise<Reconciled> {
  const id = await acceptReconcile(dest, heal);
  await succeed(id);
  return readReconcile(id, dest);
}

async function readReconcile(id: string, dest: Dest): Promise<Reconciled> {
  const steps = await stepsOf(database().db, id);
  const resultOf = (name: string) => steps.find((s) => s.name === name)?.detail.result;
  return {
    id,
    compare: resultOf(`compare@${dest.name}`) as CompareResult,
    recheck: resultOf(`recheck@${dest.name}`) as CompareResult | undefined,
    heals: steps.filter((s) => s.name.startsWith("heal:")).map((s) => s.detail.result as HealOutcome),
    steps: steps.map((s) => ({ name: s.name, state: s.state, attempts: s.attempts })),
  };
}

const kinds = (result: CompareResult) =>
  result.findings
    .map((f) => [f.kind, f.key, f.version ?? null])
    .sort((a, b) => String(a).localeCompare(String(b)));

function expectAllHealed(result: Reconciled): void {
  expect(result.compare.findings.length).toBeGreaterThan(0);
  expect(result.compare.findings.every((f) => f.healed === true)).toBe(true);
  expect(result.recheck?.findings).toEqual([]);
  expect(result.steps.every((s) => s.state === "succeeded")).toBe(true);
}

async function azureVersions(name: string) {
  return (await versionsOf(vault, name)).map((p) => ({
    id: p.id ?? "",
    enabled: p.enabled === true,
    tags: p.tags,
  }));
}

describe("reconcile: drift detection and repair", () => {
  it("a destination as the ledger says finds nothing, on both clouds", async () => {
    const [awsDest, azDest] = [await destination("aws", "aws-calm"), await destination("azure", "az-calm")];
    await distributedKey("calm", [awsDest, azDest], 2);
    for (const dest of [awsDest, azDest]) {
      const checked = await reconcile(dest, false);
      expect(checked.compare).toMatchObject({ findings: [], copies: 1, skipped: [] });
      expect(Object.values(checked.compare.counts)).toEqual([0, 0, 0, 0, 0, 0]);
      const healed = await reconcile(dest, true);
      expect(healed.steps.map((s) => s.name)).toEqual([`compare@${dest.name}`]);
    }
  });

  it("AWS: deletion scheduled or material deleted in the console; heal cancels, imports again, re-enables", async () => {
    const dest = await destination("aws", "aws-doomed");
    const key = await distributedKey("doomed", [dest], 2, "aes256-gcm96");
    const before = await copyOf(key, dest);
    await aws.send(new ScheduleKeyDeletionCommand({ KeyId: remoteIdOf(before, 2), PendingWindowInDays: 7 }));
    // And v1's imported material was deleted: its key waits for an import.
    await aws.send(new DeleteImportedKeyMaterialCommand({ KeyId: remoteIdOf(before, 1) }));

    const found = await reconcile(dest, false);
    expect(kinds(found.compare)).toEqual([
      ["missing_version", "doomed", 1],
      ["pending_deletion", "doomed", 2],
    ]);
    expect(found.compare.counts).toMatchObject({ pending_deletion: 1, missing_version: 1 });
    expect(found.compare.findings[0]?.healed).toBeUndefined();

    const healed = await reconcile(dest, true);
    expectAllHealed(healed);
    expect(await keyState(aws, remoteIdOf(before, 1))).toBe("Enabled");
    expect(await keyState(aws, remoteIdOf(before, 2))).toBe("Enabled");
    expect(await aliasTarget(aws, before.remoteName)).toBe(remoteIdOf(before, 2));
    expect(await copyOf(key, dest)).toEqual(before);
  });

  it("AWS: keys deleted for good are missing; heal imports them again under new keys and moves the alias", async () => {
    const dest = await destination("aws", "aws-clock", clocked.url);
    const whole = await distributedKey("gone-all", [dest], 1);
    const partly = await distributedKey("gone-one", [dest], 2, "aes256-gcm96");
    const [wholeBefore, partlyBefore] = [await copyOf(whole, dest), await copyOf(partly, dest)];
    for (const arn of [remoteIdOf(wholeBefore, 1), remoteIdOf(partlyBefore, 1)]) {
      await clockedAws.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: 7 }));
    }
    skewMs += 8 * DAY_MS;
    expect(await aliasTarget(clockedAws, wholeBefore.remoteName)).toBeUndefined();

    const found = await reconcile(dest, false);
    expect(kinds(found.compare)).toEqual([
      ["missing_copy", "gone-all", null],
      ["missing_version", "gone-one", 1],
    ]);
    const healed = await reconcile(dest, true);
    expectAllHealed(healed);
    const [wholeAfter, partlyAfter] = [await copyOf(whole, dest), await copyOf(partly, dest)];
    expect(remoteIdOf(wholeAfter, 1)).not.toBe(remoteIdOf(wholeBefore, 1));
    expect(remoteIdOf(partlyAfter, 1)).not.toBe(remoteIdOf(partlyBefore, 1));
    expect(remoteIdOf(partlyAfter, 2)).toBe(remoteIdOf(partlyBefore, 2));
    expect(await aliasTarget(clockedAws, wholeAfter.remoteName)).toBe(remoteIdOf(wholeAfter, 1));
    expect(await aliasTarget(clockedAws, partlyAfter.remoteName)).toBe(remoteIdOf(partlyAfter, 2));
    expect(Object.fromEntries(await liveKeysByVersion(clockedAws, "gone-one"))).toEqual({ "1": 1, "2": 1 });
  });

  it("AWS: a heal whose CreateKey answer is lost is retried without a second key", async () => {
    const dest = await destination("aws", "aws-crash", clocked.url);
    const key = await distributedKey("crash-aws", [dest], 1);
    const before = await copyOf(key, dest);
    await clockedAws.send(
      new ScheduleKeyDeletionCommand({ KeyId: remoteIdOf(before, 1), PendingWindowInDays: 7 }),
    );
    skewMs += 8 * DAY_MS;

    const id = await acceptReconcile(dest, true);
    clocked.faults.failAfterCommitNext(1, { operation: "CreateKey", mode: "drop" });
    expect(await runOperation(engine.deps, id, 1)).toMatchObject({ kind: "retry" });
    await succeed(id);
    const healed = await readReconcile(id, dest);
    expectAllHealed(healed);
    expect(healed.steps.find((s) => s.name === `heal:crash-aws@${dest.name}`)?.attempts).toBe(2);
    expect(Object.fromEntries(await liveKeysByVersion(clockedAws, "crash-aws"))).toEqual({ "1": 1 });
  });

  it("Azure: a key deleted in the portal is soft-deleted (pending_deletion); heal recovers it", async () => {
    const dest = await destination("azure", "az-soft");
    const key = await distributedKey("soft", [dest], 2);
    const before = await copyOf(key, dest);
    await (await vault.beginDeleteKey(before.remoteName)).pollUntilDone();

    const found = await reconcile(dest, false);
    expect(kinds(found.compare)).toEqual([["pending_deletion", "soft", null]]);
    const healed = await reconcile(dest, true);
    expectAllHealed(healed);
    expect((await azureVersions(before.remoteName)).map((v) => v.enabled)).toEqual([true, true]);
    expect(await copyOf(key, dest)).toEqual(before);
  });

  it("Azure: a purged key is a missing copy; heal imports the enabled versions again", async () => {
    const dest = await destination("azure", "az-purged");
    const key = await distributedKey("purged", [dest], 2);
    await succeed(await accept(database().db, "update", key, { input: { minEnabledVersion: 2 } }));
    const before = await copyOf(key, dest);
    await (await vault.beginDeleteKey(before.remoteName)).pollUntilDone();
    await vault.purgeDeletedKey(before.remoteName);

    const found = await reconcile(dest, false);
    expect(kinds(found.compare)).toEqual([["missing_copy", "purged", null]]);
    const healed = await reconcile(dest, true);
    expectAllHealed(healed);
    const after = await copyOf(key, dest);
    expect(after.versions[1]?.state).toBe("removed");
    expect(after.versions[2]?.state).toBe("enabled");
    expect(remoteIdOf(after, 2)).not.toBe(remoteIdOf(before, 2));
    expect(await azureVersions(after.remoteName)).toEqual([
      expect.objectContaining({ id: remoteIdOf(after, 2), enabled: true }),
    ]);
  });

  it("Azure: a heal whose importKey answer is lost is retried without a second version", async () => {
    const dest = await destination("azure", "az-crash");
    const key = await distributedKey("crash-az", [dest], 1);
    const before = await copyOf(key, dest);
    await (await vault.beginDeleteKey(before.remoteName)).pollUntilDone();
    await vault.purgeDeletedKey(before.remoteName);

    const id = await acceptReconcile(dest, true);
    engine.azure.faults.failAfterCommitNext(1, { operation: "importKey", mode: "drop" });
    expect(await runOperation(engine.deps, id, 1)).toMatchObject({ kind: "retry" });
    await succeed(id);
    expectAllHealed(await readReconcile(id, dest));
    expect(await azureVersions(before.remoteName)).toHaveLength(1);
  });

  it("enabled and disabled versions that differ from minEnabledVersion are state mismatches, healed both ways", async () => {
    const [awsDest, azDest] = [await destination("aws", "aws-flip"), await destination("azure", "az-flip")];
    const key = await distributedKey("flip", [awsDest, azDest], 2);
    await succeed(await accept(database().db, "update", key, { input: { minEnabledVersion: 2 } }));
    const [awsCopy, azCopy] = [await copyOf(key, awsDest), await copyOf(key, azDest)];
    await aws.send(new EnableKeyCommand({ KeyId: remoteIdOf(awsCopy, 1) }));
    await aws.send(new DisableKeyCommand({ KeyId: remoteIdOf(awsCopy, 2) }));
    const azureVersion = (kid: string) => kid.split("/").at(-1) ?? "";
    await vault.updateKeyProperties(azCopy.remoteName, azureVersion(remoteIdOf(azCopy, 1)), {
      enabled: true,
    });
    await vault.updateKeyProperties(azCopy.remoteName, azureVersion(remoteIdOf(azCopy, 2)), {
      enabled: false,
    });

    for (const dest of [awsDest, azDest]) {
      const found = await reconcile(dest, false);
      expect(kinds(found.compare)).toEqual([
        ["state_mismatch", "flip", 1],
        ["state_mismatch", "flip", 2],
      ]);
      expectAllHealed(await reconcile(dest, true));
    }
    expect(await keyState(aws, remoteIdOf(awsCopy, 1))).toBe("Disabled");
    expect(await keyState(aws, remoteIdOf(awsCopy, 2))).toBe("Enabled");
    const states = Object.fromEntries((await azureVersions(azCopy.remoteName)).map((v) => [v.id, v.enabled]));
    expect(states).toEqual({ [remoteIdOf(azCopy, 1)]: false, [remoteIdOf(azCopy, 2)]: true });
  });

  it("an extra tagged version and an untracked tagged key are reported, then disabled (never deleted)", async () => {
    const [awsDest, azDest] = [await destination("aws", "aws-extra"), await destination("azure", "az-extra")];
    const key = await distributedKey("extra", [awsDest, azDest], 1);
    const tags = (keyName: string, version: number) => ({
      "keyferry:key": keyName,
      "keyferry:version": String(version),
      "keyferry:kms": awsDest.name,
    });
    const create = async (keyName: string, version: number) =>
      (
        await aws.send(
          new CreateKeyCommand({
            KeySpec: "ECC_NIST_P256",
            KeyUsage: "SIGN_VERIFY",
            Tags: Object.entries(tags(keyName, version)).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
          }),
        )
      ).KeyMetadata?.Arn ?? "";
    const [awsExtra, awsGhost] = [await create("extra", 2), await create("ghost", 1)];
    // The console also moved the alias onto the extra key.
    const awsCopy = await copyOf(key, awsDest);
    await aws.send(new UpdateAliasCommand({ AliasName: awsCopy.remoteName, TargetKeyId: awsExtra }));
    const azCopy = await copyOf(key, azDest);
    const azExtra =
      (
        await vault.createEcKey(azCopy.remoteName, {
          tags: { "keyferry:key": "extra", "keyferry:version": "2" },
        })
      ).id ?? "";
    const azGhost =
      (
        await vault.createEcKey("az-extra-phantom", {
          tags: { "keyferry:key": "phantom", "keyferry:version": "1" },
        })
      ).id ?? "";

    const awsFound = await reconcile(awsDest, false);
    expect(awsFound.compare.findings.map((f) => [f.kind, f.key, f.remoteId]).sort()).toEqual([
      ["extra_version", "extra", awsExtra],
      ["state_mismatch", "extra", awsExtra],
      ["untracked", "ghost", awsGhost],
    ]);
    const azFound = await reconcile(azDest, false);
    expect(azFound.compare.findings.map((f) => [f.kind, f.key, f.remoteId ?? null]).sort()).toEqual([
      ["extra_version", "extra", azExtra],
      // The portal's new version became the key's current one, in place of keyferry's latest.
      ["state_mismatch", "extra", azExtra],
      ["untracked", "phantom", azGhost],
    ]);

    expectAllHealed(await reconcile(awsDest, true));
    expect(await keyState(aws, awsExtra)).toBe("Disabled");
    expect(await keyState(aws, awsGhost)).toBe("Disabled");
    expect(await aliasTarget(aws, awsCopy.remoteName)).toBe(remoteIdOf(awsCopy, 1));
    expectAllHealed(await reconcile(azDest, true));
    const after = await copyOf(key, azDest);
    const versions = await azureVersions(azCopy.remoteName);
    // v1 was imported once more so that it is current again; the portal's version and the old v1 are disabled.
    expect(Object.fromEntries(versions.map((v) => [v.id, v.enabled]))).toEqual({
      [remoteIdOf(azCopy, 1)]: false,
      [azExtra]: false,
      [remoteIdOf(after, 1)]: true,
    });
    expect((await vault.getKey(azCopy.remoteName)).id).toBe(remoteIdOf(after, 1));
    expect(await azureVersions("az-extra-phantom")).toEqual([expect.objectContaining({ enabled: false })]);
  });

  it("a key with an operation in flight is skipped, with a note and no finding", async () => {
    const dest = await destination("aws", "aws-busy");
    const key = await distributedKey("busy", [dest], 1);
    const copy = await copyOf(key, dest);
    await aws.send(new DisableKeyCommand({ KeyId: remoteIdOf(copy, 1) }));
    const rotation = await accept(database().db, "rotate", key);

    const checked = await reconcile(dest, true);
    expect(checked.compare).toMatchObject({ findings: [], copies: 0, skipped: [{ key: "busy" }] });
    expect(checked.steps.map((s) => s.name)).toEqual([`compare@${dest.name}`]);
    expect(await keyState(aws, remoteIdOf(copy, 1))).toBe("Disabled");
    await succeed(rotation);
    expect(kinds((await reconcile(dest, false)).compare)).toEqual([["state_mismatch", "busy", 1]]);
  });

  it("every finding and repair is in the ledger, and the chain verifies", async () => {
    const { db } = database();
    await chainAll(db);
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
    const events = new Set(
      (await db.select({ event: ledgerEntries.event }).from(ledgerEntries)).map((e) => e.event),
    );
    for (const event of ["drift.found", "drift.healed", "drift.compared", "distribution.repaired"]) {
      expect(events).toContain(event);
    }
    expect(events).not.toContain("drift.heal-failed");
  });
});

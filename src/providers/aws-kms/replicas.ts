import { ReplicateKeyCommand } from "@aws-sdk/client-kms";
import type { RemoteCopy, RemoteVersion, VersionSource } from "../kms-provider.js";
import { keyferryTags } from "../tags.js";
import { isRemote } from "./alias.js";
import { replicasOf, versionsByKey } from "./copy.js";
import { importFirstMaterial } from "./import-material.js";
import { ENTRY, readEntry, writeDone, writeIntent } from "./journal.js";
import { describeKey, keyDescription, malformed } from "./remote-keys.js";
import type { AwsRun } from "./run.js";
import { replicaRegionsOf } from "./support.js";

/**
 * Multi-Region replicas of a copy's KMS keys (destination option `replicaRegions`). Each key keyferry
 * creates is then a multi-Region primary; ReplicateKey makes a replica of it in each replica region, tagged
 * like the primary, and the SAME material is imported into each replica (KMS does not copy imported
 * material between regions, and related keys must hold the same material). The replica ARNs are kept in
 * RemoteVersion.detail.replicas (region → ARN).
 *
 * ReplicateKey is not idempotent (a second one answers AlreadyExistsException), so it is journaled like
 * CreateKey; the recovery path needs no tag search: the primary's MultiRegionConfiguration names its replica
 * in each region, and a region holds at most one replica of a primary.
 */

/** Replicate the primary `primaryArn` of `version` everywhere and import its material; region → ARN. */
export async function replicateVersion(
  run: AwsRun,
  primaryArn: string,
  version: VersionSource,
  keyMaterialId: string | undefined,
): Promise<Record<string, string>> {
  const replicas: Record<string, string> = {};
  for (const region of replicaRegionsOf(run.session.destination)) {
    const arn = await replicateTo(run, primaryArn, version.version, region);
    await importFirstMaterial(run.inRegion(region), arn, version, { keyMaterialId });
    replicas[region] = arn;
  }
  return replicas;
}

async function replicateTo(
  run: AwsRun,
  primaryArn: string,
  version: number,
  region: string,
): Promise<string> {
  const { session, key, now } = run;
  const { journal, operationId, logger } = session.ctx;
  const entryName = ENTRY.replicate(version, region);
  const entry = readEntry(journal, entryName);
  if (entry?.arn) return entry.arn;
  const fields = { op: "ReplicateKey", kms: session.destination.name, key: key.name, version, region };
  if (entry) {
    const found = await replicaIn(run, primaryArn, region);
    if (found) {
      logger.info({ ...fields, arn: found }, "aws-kms found the replica an interrupted attempt created");
      await writeDone(journal, entryName, now(), { arn: found });
      return found;
    }
  }
  await writeIntent(journal, entryName, now());
  const tags = keyferryTags({ keyName: key.name, version, operationId, kms: session.destination.name });
  let arn: string | undefined;
  try {
    const answer = await session.call(
      "ReplicateKey",
      (client, abortSignal) =>
        client.send(
          new ReplicateKeyCommand({
            KeyId: primaryArn,
            ReplicaRegion: region,
            // Not a shared property of multi-Region keys: without it the replica has none.
            Description: keyDescription(key, version),
            Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
          }),
          { abortSignal },
        ),
      { idempotent: false, key: key.name, version, arn: primaryArn },
    );
    arn = answer.ReplicaKeyMetadata?.Arn;
    if (!arn) throw malformed("ReplicateKey", "ReplicaKeyMetadata.Arn");
  } catch (error) {
    // Made by an attempt whose intent was not recorded as such (or by an earlier, lost answer).
    if (!isRemote(error, "AlreadyExistsException")) throw error;
    arn = await replicaIn(run, primaryArn, region);
    if (!arn) throw error;
  }
  await writeDone(journal, entryName, now(), { arn });
  logger.info({ ...fields, arn }, "aws-kms key replicated");
  return arn;
}

/** The primary's replica in `region`, as the primary's DescribeKey reports it. */
async function replicaIn(run: AwsRun, primaryArn: string, region: string): Promise<string | undefined> {
  const metadata = await describeKey(run, primaryArn);
  return metadata?.MultiRegionConfiguration?.ReplicaKeys?.find((replica) => replica.Region === region)?.Arn;
}

/** One KMS key of a copy in one region: a primary, or one of its replicas. */
export interface RegionalKey {
  run: AwsRun;
  arn: string;
  region: string;
  versions: RemoteVersion[];
  replica: boolean;
}

/**
 * Every KMS key of the copy in every region, replicas first (for removal: a primary is deleted only after
 * its replicas), grouped as versionsByKey groups the primaries.
 */
export function regionalKeys(run: AwsRun, copy: RemoteCopy): RegionalKey[] {
  const primaries: RegionalKey[] = [];
  const replicas: RegionalKey[] = [];
  const home = run.session.destination.keyCollection;
  for (const [arn, versions] of versionsByKey(copy)) {
    primaries.push({ run, arn, region: home, versions, replica: false });
    const seen = new Set<string>();
    for (const version of versions) {
      for (const [region, replicaArn] of Object.entries(replicasOf(version))) {
        if (seen.has(replicaArn)) continue;
        seen.add(replicaArn);
        replicas.push({ run: run.inRegion(region), arn: replicaArn, region, versions, replica: true });
      }
    }
  }
  return [...replicas, ...primaries];
}

import {
  CreateKeyCommand,
  DescribeKeyCommand,
  type KeyMetadata,
  ListKeysCommand,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { ProviderError } from "../provider-error.js";
import { keyferryTags, tagsMatch } from "../tags.js";
import { ENTRY, readEntry, writeDone, writeIntent } from "./journal.js";
import type { AwsReader, AwsRun } from "./run.js";
import { KEY_SPECS, keyUsageOf, replicaRegionsOf } from "./support.js";

/**
 * KMS keys: the journaled CreateKey, and finding keys by keyferry's tags. The tag search reads every key of
 * the region (ListKeys, then ListResourceTags of each), so it runs only on the recovery path: when the
 * journal holds an intent without a result.
 */

/** The key that holds `version` (for a single-key AES copy, the first version it was created for). */
export async function createVersionKey(run: AwsRun, version: number): Promise<string> {
  const { session, key, now } = run;
  const { journal, operationId } = session.ctx;
  const entryName = ENTRY.createKey(version);
  const entry = readEntry(journal, entryName);
  if (entry?.arn) return entry.arn;
  if (entry) {
    const found = await findTaggedKey(run, version);
    if (found) {
      session.ctx.logger.info(
        { op: "CreateKey", kms: session.destination.name, key: key.name, version, arn: found },
        "aws-kms found the key an interrupted attempt created",
      );
      await writeDone(journal, entryName, now(), { arn: found });
      return found;
    }
  }
  await writeIntent(journal, entryName, now());
  const tags = keyferryTags({ keyName: key.name, version, operationId, kms: session.destination.name });
  const created = await session.call(
    "CreateKey",
    (client, abortSignal) =>
      client.send(
        new CreateKeyCommand({
          Origin: "EXTERNAL",
          KeySpec: KEY_SPECS[key.type],
          KeyUsage: keyUsageOf(key),
          Description: keyDescription(key, version),
          Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
          // A primary that replicas in the destination's replica regions can follow (replicas.ts).
          ...(replicaRegionsOf(session.destination).length > 0 ? { MultiRegion: true } : {}),
        }),
        { abortSignal },
      ),
    { idempotent: false, key: key.name, version },
  );
  const arn = created.KeyMetadata?.Arn;
  if (!arn) throw malformed("CreateKey", "KeyMetadata.Arn");
  await writeDone(journal, entryName, now(), { arn });
  session.ctx.logger.info(
    { op: "CreateKey", kms: session.destination.name, key: key.name, version, arn },
    "aws-kms key created",
  );
  return arn;
}

export function keyDescription(key: AwsRun["key"], version: number): string {
  return `keyferry key ${key.name} v${version} (${key.type}; ${key.purposes.join(", ")})`;
}

/** DescribeKey, or undefined when the key does not exist (any more). */
export async function describeKey(run: AwsReader, keyId: string): Promise<KeyMetadata | undefined> {
  try {
    const answer = await run.session.call(
      "DescribeKey",
      (client, abortSignal) => client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal }),
      { idempotent: true, key: run.key?.name, arn: keyId },
    );
    return answer.KeyMetadata;
  } catch (error) {
    if (error instanceof ProviderError && error.remoteCode === "NotFoundException") return undefined;
    throw error;
  }
}

/** The key ARNs of the region, page by page. */
export async function* keyArns(run: AwsReader): AsyncGenerator<string> {
  let marker: string | undefined;
  do {
    const page = await run.session.call(
      "ListKeys",
      (client, abortSignal) =>
        client.send(new ListKeysCommand({ Limit: 1000, Marker: marker }), { abortSignal }),
      { idempotent: true },
    );
    for (const entry of page.Keys ?? []) if (entry.KeyArn) yield entry.KeyArn;
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
}

/** A key's tags as a record, or undefined when the key went away meanwhile. */
export async function tagsOf(run: AwsReader, arn: string): Promise<Record<string, string> | undefined> {
  const tags: Record<string, string> = {};
  let marker: string | undefined;
  try {
    do {
      const page = await run.session.call(
        "ListResourceTags",
        (client, abortSignal) =>
          client.send(new ListResourceTagsCommand({ KeyId: arn, Limit: 50, Marker: marker }), {
            abortSignal,
          }),
        { idempotent: true, arn },
      );
      for (const tag of page.Tags ?? []) if (tag.TagKey) tags[tag.TagKey] = tag.TagValue ?? "";
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
  } catch (error) {
    if (error instanceof ProviderError && error.remoteCode === "NotFoundException") return undefined;
    throw error;
  }
  return tags;
}

/**
 * The key this operation created for `version`, if any, ignoring keys pending deletion (left by an earlier
 * copy that was removed). Should an earlier fault have left two, the oldest is used and the other reported.
 */
async function findTaggedKey(run: AwsRun, version: number): Promise<string | undefined> {
  const wanted = {
    keyName: run.key.name,
    version,
    operationId: run.session.ctx.operationId,
    kms: run.session.destination.name,
  };
  const found: KeyMetadata[] = [];
  for await (const arn of keyArns(run)) {
    const tags = await tagsOf(run, arn);
    if (!tags || !tagsMatch(tags, wanted)) continue;
    const metadata = await describeKey(run, arn);
    if (metadata && metadata.KeyState !== "PendingDeletion") found.push(metadata);
  }
  found.sort((a, b) => (a.CreationDate?.getTime() ?? 0) - (b.CreationDate?.getTime() ?? 0));
  if (found.length > 1) {
    run.session.ctx.logger.warn(
      {
        op: "CreateKey",
        kms: run.session.destination.name,
        key: run.key.name,
        version,
        arns: found.map((k) => k.Arn),
      },
      "aws-kms found more than one key for one version; using the oldest",
    );
  }
  return found[0]?.Arn;
}

/** An answer without a member the call cannot do without: not worth retrying. */
export function malformed(operation: string, what: string): ProviderError {
  return new ProviderError("permanent", "MalformedResponse", `AWS KMS ${operation} answered without ${what}`);
}

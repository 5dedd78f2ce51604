import type { KeyMetadata } from "@aws-sdk/client-kms";
import type { ManagedCopy } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { parseKeyferryTags } from "../tags.js";
import { describeKey, keyArns, tagsOf } from "./remote-keys.js";
import { materialsOf } from "./rotation.js";
import type { AwsReader } from "./run.js";

/**
 * Every KMS key of the region that carries keyferry's tags for this destination, for drift detection: one entry per version, so
 * a single-key AES copy yields one entry per material described `v<N>`. Keys pending deletion are listed
 * too (their copy was removed, or an interrupted attempt left them). Keys are read a few at a time: each
 * needs two or three calls, and ListResourceTags and DescribeKey allow thousands per second. A key whose
 * policy denies keyferry's principal is someone else's (keyferry's keys keep the default policy, which
 * defers to IAM): it is skipped and counted in a warning, not allowed to fail the whole listing.
 */

const CONCURRENCY = 8;
const DESCRIBED_VERSION = /^v([1-9]\d*)$/;

export async function listManagedCopies(reader: AwsReader): Promise<ManagedCopy[]> {
  const copies: ManagedCopy[] = [];
  let denied = 0;
  let batch: string[] = [];
  const readable = (arn: string) =>
    copiesOfKey(reader, arn).catch((error: unknown) => {
      if (!(error instanceof ProviderError && error.remoteCode === "AccessDeniedException")) throw error;
      denied += 1;
      return [];
    });
  const flush = async () => {
    for (const found of await Promise.all(batch.map(readable))) copies.push(...found);
    batch = [];
  };
  for await (const arn of keyArns(reader)) {
    batch.push(arn);
    if (batch.length >= CONCURRENCY) await flush();
  }
  await flush();
  if (denied > 0) {
    reader.session.ctx.logger.warn(
      { op: "ListResourceTags", kms: reader.session.destination.name, denied },
      "aws-kms skipped keys whose policy denies reading them",
    );
  }
  return copies;
}

async function copiesOfKey(reader: AwsReader, arn: string): Promise<ManagedCopy[]> {
  const tags = await tagsOf(reader, arn);
  const parsed = tags && parseKeyferryTags(tags);
  // Another destination's copy in the same account and region is not this destination's drift.
  if (!parsed || parsed.kms !== reader.session.destination.name) return [];
  const metadata = await describeKey(reader, arn);
  if (!metadata) return [];
  const keyState = stateOf(metadata);
  const base = { keyName: parsed.keyName, remoteId: arn, operationId: parsed.operationId, kms: parsed.kms };
  if (metadata.KeySpec === "SYMMETRIC_DEFAULT" && keyState !== "pending-deletion") {
    const described = (await materialsOf(reader, arn)).flatMap((material) => {
      const match = DESCRIBED_VERSION.exec(material.KeyMaterialDescription ?? "");
      if (!match) return [];
      const pending =
        material.ImportState === "PENDING_IMPORT" || material.KeyMaterialState === "PENDING_ROTATION";
      return [
        {
          ...base,
          version: Number(match[1]),
          state: pending && keyState === "enabled" ? "pending" : keyState,
        },
      ];
    });
    if (described.length > 0) return described;
  }
  return [{ ...base, version: parsed.version, state: keyState }];
}

function stateOf(metadata: KeyMetadata): ManagedCopy["state"] {
  switch (metadata.KeyState) {
    case "Enabled":
      return "enabled";
    case "Disabled":
      return "disabled";
    case "PendingDeletion":
    case "PendingReplicaDeletion":
      return "pending-deletion";
    default:
      return "pending";
  }
}

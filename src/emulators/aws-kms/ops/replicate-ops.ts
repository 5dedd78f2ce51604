import { z } from "zod";
import type { OperationContext, OperationOutput } from "../context.js";
import { alreadyExists, unsupported, validation } from "../errors.js";
import { findKey, requireState } from "../key-lookup.js";
import { keyMetadata } from "../metadata.js";
import type { KmsKey } from "../state.js";
import { keyArn } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";
import { addTags, tagListMember } from "./tag-ops.js";

/**
 * ReplicateKey (API reference; developer guide "Importing key material into multi-Region keys"): a replica
 * of a multi-Region primary key in another region of the same account, with the same key id, spec, usage and
 * origin, and tags and description of its own. A replica of an EXTERNAL primary is created without material,
 * PendingImport: the caller imports the same material into it (ImportKeyMaterial checks that it is the same).
 * A replica of an AWS_KMS primary gets the primary's material, as KMS copies it between its HSMs.
 *
 * The real replica passes through the transient state Creating for a few seconds; here it is ready at once.
 * The request counts against the ReplicateKey quota and two CreateKey requests (the real service counts those
 * in the replica's region; the emulator has one quota scope).
 */

/** ReplicaRegion's constraint in the API model. */
const REGION = /^([a-z]+-){2,3}\d+$/;

const ReplicateKeyInput = z.object({
  KeyId: keyIdMember,
  ReplicaRegion: z.string().min(1).max(32).regex(REGION, "Member must satisfy regular expression pattern"),
  // Accepted and not evaluated: the emulator has no IAM.
  Policy: z.string().min(1).max(32768).optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  Description: z.string().max(8192).optional(),
  Tags: tagListMember.optional(),
});

const DEFAULT_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Id: "key-default-1",
  Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Action: "kms:*", Resource: "*" }],
});

export function replicateKey(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ReplicateKeyInput, input);
  const primary = findKey(context, request.KeyId, { aliases: false });
  if (primary.multiRegion === undefined) {
    throw unsupported(
      `${keyArn(primary)} is not a multi-Region key; only multi-Region keys can be replicated`,
    );
  }
  if (primary.multiRegion !== "PRIMARY") {
    throw unsupported(`${keyArn(primary)} is a replica key; ReplicateKey takes the multi-Region primary key`);
  }
  requireState(primary, ["Enabled", "Disabled", "PendingImport"]);
  if (request.ReplicaRegion === primary.region) {
    throw validation(`ReplicaRegion ${request.ReplicaRegion} is the primary key's own region`);
  }
  const existing = context.state.getKey(request.ReplicaRegion, primary.id);
  if (existing) {
    throw alreadyExists(`${keyArn(existing)} already exists: a primary key has one replica per region`);
  }
  context.takeQuota("CreateKey");
  context.takeQuota("CreateKey");

  const replica: KmsKey = {
    id: primary.id,
    region: request.ReplicaRegion,
    accountId: primary.accountId,
    createdAt: context.now,
    description: request.Description ?? primary.description,
    keySpec: primary.keySpec,
    keyUsage: primary.keyUsage,
    origin: primary.origin,
    state: primary.origin === "EXTERNAL" ? "PendingImport" : "Enabled",
    deletionDate: undefined,
    pendingWindowInDays: undefined,
    tags: new Map(),
    materials:
      primary.origin === "EXTERNAL"
        ? []
        : primary.materials.map((record) => ({
            ...record,
            material: record.material ? Buffer.from(record.material) : undefined,
          })),
    publicKey: primary.origin === "EXTERNAL" ? undefined : primary.publicKey,
    onDemandRotations: 0,
    privateKeyObject: undefined,
    multiRegion: "REPLICA",
  };
  addTags(replica, request.Tags ?? []);
  context.state.putKey(replica);
  context.noteKey(replica.id);
  return {
    ReplicaKeyMetadata: keyMetadata(replica, context.state),
    ReplicaPolicy: request.Policy ?? DEFAULT_POLICY,
    ReplicaTags: [...replica.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
  };
}

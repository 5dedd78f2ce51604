import {
  DeleteImportedKeyMaterialCommand,
  type KeyState,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import type { RemoteCopy } from "../kms-provider.js";
import { deleteAlias, isRemote } from "./alias.js";
import { describeKey } from "./remote-keys.js";
import { type RegionalKey, regionalKeys } from "./replicas.js";
import type { AwsRun } from "./run.js";

/**
 * Remove a copy (SPEC section 4): first every key stops working at once — DeleteImportedKeyMaterial turns
 * it PendingImport, which unlike DisableKey cannot be undone by anyone holding kms:EnableKey, only by
 * importing the material again — then the alias goes, then deletion is scheduled with the destination's
 * waiting period, in every region that holds a multi-Region replica too. Each key's state is read first, so a repeated call skips what is done. The original key
 * stays in keyferry, and a later distribute creates new KMS keys and the alias again.
 */
export async function removeCopy(run: AwsRun, copy: RemoteCopy, pendingWindowDays: number): Promise<void> {
  // Replicas come first: KMS deletes a multi-Region primary only after its replicas (a primary scheduled
  // while they exist waits in PendingReplicaDeletion).
  const targets = regionalKeys(run, copy);
  const toSchedule: RegionalKey[] = [];
  for (const target of targets) {
    const state = (await describeKey(target.run, target.arn))?.KeyState;
    if (state === undefined || state === "PendingDeletion" || state === "PendingReplicaDeletion") continue;
    if (state === "Enabled" || state === "Disabled") {
      await callUnlessAlready(
        target.run,
        target.arn,
        "DeleteImportedKeyMaterial",
        (client, abortSignal) =>
          client.send(new DeleteImportedKeyMaterialCommand({ KeyId: target.arn }), { abortSignal }),
        ["PendingImport", "PendingDeletion", "PendingReplicaDeletion"],
        target.versions[0]?.version,
      );
    }
    toSchedule.push(target);
  }
  // The alias may already name a newer copy of the same key (redistributed meanwhile): that one stays.
  const regions = new Map<string, { run: AwsRun; arns: Set<string> }>();
  for (const target of targets) {
    const entry = regions.get(target.region) ?? { run: target.run, arns: new Set<string>() };
    entry.arns.add(target.arn);
    regions.set(target.region, entry);
  }
  for (const { run: regionRun, arns } of regions.values()) {
    const aliasTarget = (await describeKey(regionRun, copy.remoteName))?.Arn;
    if (aliasTarget !== undefined && arns.has(aliasTarget)) await deleteAlias(regionRun, copy.remoteName);
  }
  for (const { run: targetRun, arn } of toSchedule) {
    await callUnlessAlready(
      targetRun,
      arn,
      "ScheduleKeyDeletion",
      (client, abortSignal) =>
        client.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: pendingWindowDays }), {
          abortSignal,
        }),
      ["PendingDeletion", "PendingReplicaDeletion"],
      undefined,
    );
    targetRun.session.ctx.logger.info(
      { op: "ScheduleKeyDeletion", kms: targetRun.session.destination.name, key: targetRun.key.name, arn },
      "aws-kms key deletion scheduled",
    );
  }
}

/**
 * Both calls change the key's state, so repeating one whose answer was lost meets KMSInvalidStateException:
 * when the key is already in a state the call leads to, that is success.
 */
async function callUnlessAlready(
  run: AwsRun,
  arn: string,
  operation: string,
  send: (client: KMSClient, abortSignal: AbortSignal | undefined) => Promise<unknown>,
  done: readonly KeyState[],
  version: number | undefined,
): Promise<void> {
  try {
    await run.session.call(operation, send, { idempotent: true, key: run.key.name, version, arn });
  } catch (error) {
    if (!isRemote(error, "KMSInvalidStateException")) throw error;
    const state = (await describeKey(run, arn))?.KeyState;
    if (state === undefined || !done.includes(state)) throw error;
  }
}

import {
  DeleteImportedKeyMaterialCommand,
  type KeyState,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from "@aws-sdk/client-kms";
import type { RemoteCopy } from "../kms-provider.js";
import { deleteAlias, isRemote } from "./alias.js";
import { versionsByKey } from "./copy.js";
import { describeKey } from "./remote-keys.js";
import type { AwsRun } from "./run.js";

/**
 * Remove a copy (SPEC section 4): first every key stops working at once — DeleteImportedKeyMaterial turns
 * it PendingImport, which unlike DisableKey cannot be undone by anyone holding kms:EnableKey, only by
 * importing the material again — then the alias goes, then deletion is scheduled with the destination's
 * waiting period. Each key's state is read first, so a repeated call skips what is done. The original key
 * stays in keyferry, and a later distribute creates new KMS keys and the alias again.
 */
export async function removeCopy(run: AwsRun, copy: RemoteCopy, pendingWindowDays: number): Promise<void> {
  const toSchedule: string[] = [];
  for (const [arn, versions] of versionsByKey(copy)) {
    const state = (await describeKey(run, arn))?.KeyState;
    if (state === undefined || state === "PendingDeletion") continue;
    if (state === "Enabled" || state === "Disabled") {
      await callUnlessAlready(
        run,
        arn,
        "DeleteImportedKeyMaterial",
        (client, abortSignal) =>
          client.send(new DeleteImportedKeyMaterialCommand({ KeyId: arn }), { abortSignal }),
        ["PendingImport", "PendingDeletion"],
        versions[0]?.version,
      );
    }
    toSchedule.push(arn);
  }
  // The alias may already name a newer copy of the same key (redistributed meanwhile): that one stays.
  const aliasTarget = (await describeKey(run, copy.remoteName))?.Arn;
  if (aliasTarget !== undefined && versionsByKey(copy).has(aliasTarget))
    await deleteAlias(run, copy.remoteName);
  for (const arn of toSchedule) {
    await callUnlessAlready(
      run,
      arn,
      "ScheduleKeyDeletion",
      (client, abortSignal) =>
        client.send(new ScheduleKeyDeletionCommand({ KeyId: arn, PendingWindowInDays: pendingWindowDays }), {
          abortSignal,
        }),
      ["PendingDeletion"],
      undefined,
    );
    run.session.ctx.logger.info(
      { op: "ScheduleKeyDeletion", kms: run.session.destination.name, key: run.key.name, arn },
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

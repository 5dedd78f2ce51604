import {
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  type RotationsListEntry,
} from "@aws-sdk/client-kms";
import { ProviderError } from "../provider-error.js";
import { abortableSleep, backoffDelay } from "../retry.js";
import { ENTRY, readEntry, writeDone, writeIntent } from "./journal.js";
import { describeKey } from "./remote-keys.js";
import type { AwsReader, AwsRun } from "./run.js";

/**
 * On-demand rotation of a single-key AES copy: RotateKeyOnDemand makes the material imported as the new
 * version current. The service rotates asynchronously, so the step waits until DescribeKey shows the new
 * material as current. At most 25 on-demand rotations per key (a quota that cannot be raised).
 */

export const MAX_ON_DEMAND_ROTATIONS = 25;

/** Every material of a symmetric key, pending ones included (ListKeyRotations ALL_KEY_MATERIAL). */
export async function materialsOf(run: AwsReader, arn: string): Promise<RotationsListEntry[]> {
  return listRotations(run, arn, "ALL_KEY_MATERIAL");
}

export async function onDemandRotationCount(run: AwsRun, arn: string): Promise<number> {
  const rotations = await listRotations(run, arn, "ROTATIONS_ONLY");
  return rotations.filter((entry) => entry.RotationType === "ON_DEMAND").length;
}

/**
 * Make `keyMaterialId` (version `version`) current. Journaled: a retry after a lost answer checks whether the
 * material is no longer pending, and a ConflictException on the repeated request means the earlier rotation
 * is still running, so it waits for it instead of failing.
 */
export async function rotateTo(
  run: AwsRun,
  arn: string,
  version: number,
  keyMaterialId: string,
): Promise<void> {
  const { journal, logger } = run.session.ctx;
  const entryName = ENTRY.rotate(version);
  const entry = readEntry(journal, entryName);
  if (entry?.phase === "done") return;
  const recovering = entry !== undefined;
  if (recovering) {
    const material = (await materialsOf(run, arn)).find((m) => m.KeyMaterialId === keyMaterialId);
    // CURRENT (or already superseded): the lost rotation took effect.
    if (material && material.KeyMaterialState !== "PENDING_ROTATION") {
      await writeDone(journal, entryName, run.now(), { arn, keyMaterialId });
      return;
    }
  }
  await writeIntent(journal, entryName, run.now());
  try {
    await run.session.call(
      "RotateKeyOnDemand",
      (client, abortSignal) => client.send(new RotateKeyOnDemandCommand({ KeyId: arn }), { abortSignal }),
      { idempotent: false, key: run.key.name, version, arn },
    );
  } catch (error) {
    const inProgress = error instanceof ProviderError && error.remoteCode === "ConflictException";
    if (!(recovering && inProgress)) throw error;
  }
  await waitUntilCurrent(run, arn, keyMaterialId);
  await writeDone(journal, entryName, run.now(), { arn, keyMaterialId });
  logger.info(
    { op: "RotateKeyOnDemand", kms: run.session.destination.name, key: run.key.name, version, arn },
    "aws-kms key material rotated",
  );
}

async function waitUntilCurrent(run: AwsRun, arn: string, keyMaterialId: string): Promise<void> {
  const { attempts, baseDelayMs, maxDelayMs } = run.retry;
  const sleep = run.retry.sleep ?? abortableSleep;
  for (let poll = 1; ; poll++) {
    const metadata = await describeKey(run, arn);
    if (metadata?.CurrentKeyMaterialId === keyMaterialId) return;
    if (poll >= attempts * 2) {
      // The journal says the rotation was asked for: the retried step waits again instead of rotating twice.
      throw new ProviderError(
        "transient",
        "RotationInProgress",
        `AWS KMS key ${arn} has not made the new key material current yet`,
      );
    }
    await sleep(
      Math.max(baseDelayMs, backoffDelay(poll, baseDelayMs, maxDelayMs)),
      run.session.ctx.signal,
    ).catch((cause: unknown) => {
      throw new ProviderError("transient", "AbortError", "waiting for an AWS KMS rotation was cancelled", {
        cause,
      });
    });
  }
}

async function listRotations(
  run: AwsReader,
  arn: string,
  include: "ALL_KEY_MATERIAL" | "ROTATIONS_ONLY",
): Promise<RotationsListEntry[]> {
  const entries: RotationsListEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await run.session.call(
      "ListKeyRotations",
      (client, abortSignal) =>
        client.send(
          new ListKeyRotationsCommand({
            KeyId: arn,
            IncludeKeyMaterial: include,
            Limit: 1000,
            Marker: marker,
          }),
          { abortSignal },
        ),
      { idempotent: true, key: run.key?.name, arn },
    );
    entries.push(...(page.Rotations ?? []));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return entries;
}

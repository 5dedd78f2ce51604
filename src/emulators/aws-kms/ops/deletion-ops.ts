import { z } from "zod";
import { epochSeconds, type OperationContext, type OperationOutput } from "../context.js";
import { findKey, requireState } from "../key-lookup.js";
import { hasAllMaterial } from "../materials.js";
import { keyArn } from "../state.js";
import { keyIdMember, parseInput } from "../validation.js";

/**
 * ScheduleKeyDeletion (7..30 days, default 30) and CancelKeyDeletion. When the waiting period ends the key
 * goes for good (applyTime in materials.ts), with its aliases. A multi-Region primary key that still has
 * replicas (in any state) becomes PendingReplicaDeletion instead: unusable, with no deletion date, until the
 * last replica is deleted for good; then its own waiting period starts (ScheduleKeyDeletion reference).
 */

const DAY_MS = 24 * 3600 * 1000;

const ScheduleKeyDeletionInput = z.object({
  KeyId: keyIdMember,
  PendingWindowInDays: z.number().int().min(7).max(30).optional(),
});

export function scheduleKeyDeletion(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(ScheduleKeyDeletionInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireState(key, ["Enabled", "Disabled", "PendingImport"]);
  const days = request.PendingWindowInDays ?? 30;
  key.pendingWindowInDays = days;
  if (key.multiRegion === "PRIMARY" && context.state.relatedKeys(key).length > 0) {
    key.state = "PendingReplicaDeletion";
    key.deletionDate = undefined;
    return { KeyId: keyArn(key), KeyState: key.state, PendingWindowInDays: days };
  }
  key.state = "PendingDeletion";
  key.deletionDate = context.now + days * DAY_MS;
  return {
    KeyId: keyArn(key),
    DeletionDate: epochSeconds(key.deletionDate),
    KeyState: key.state,
    PendingWindowInDays: days,
  };
}

const CancelKeyDeletionInput = z.object({ KeyId: keyIdMember });

/**
 * The key comes back Disabled (CancelKeyDeletion reference); an imported-material key whose material is
 * missing comes back PendingImport, since it cannot be enabled without it.
 */
export function cancelKeyDeletion(input: unknown, context: OperationContext): OperationOutput {
  const request = parseInput(CancelKeyDeletionInput, input);
  const key = findKey(context, request.KeyId, { aliases: false });
  requireState(key, ["PendingDeletion", "PendingReplicaDeletion"]);
  key.state = key.origin === "EXTERNAL" && !hasAllMaterial(key) ? "PendingImport" : "Disabled";
  key.deletionDate = undefined;
  key.pendingWindowInDays = undefined;
  return { KeyId: keyArn(key) };
}

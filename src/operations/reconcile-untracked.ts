import { appendToLedger } from "../ledger/append.js";
import { destinationStep, type OperationContext } from "./context.js";
import { codeOf, isRetryable, messageOf } from "./errors.js";
import { type Finding, loadLedgerView, recordedId } from "./reconcile-compare.js";
import { driftEvent } from "./reconcile-heal.js";

/**
 * `disable-untracked@<kms>`: enabled objects tagged for keys keyferry has no live copy of here are disabled
 * (their material may be someone's only copy: never deleted). Each is checked against the ledger again first.
 */
export function disableUntracked(
  ctx: OperationContext,
  kmsId: string,
  kmsName: string,
  findings: readonly Finding[],
): Promise<{
  disabled: Array<{ key?: string; remoteId: string }>;
  left: Array<{ remoteId: string; reason: string }>;
}> {
  return destinationStep(ctx, "disable-untracked", kmsId, kmsName, async (call) => {
    const view = await loadLedgerView(ctx.deps.db, kmsId);
    const disabled: Array<{ key?: string; remoteId: string }> = [];
    const left: Array<{ remoteId: string; reason: string }> = [];
    // Written once at the end: a retried step disables again (idempotent) and records once.
    const events: Array<ReturnType<typeof driftEvent>> = [];
    for (const finding of findings) {
      const { key, remoteId, version } = finding;
      if (!remoteId) continue;
      const now =
        (key !== undefined && (view.liveKeys.has(key) || view.busyKeys.has(key))) ||
        view.recorded.has(recordedId(remoteId, version ?? 0));
      if (now) {
        left.push({ remoteId, reason: "keyferry records the key here since the compare" });
        continue;
      }
      try {
        await call.provider.disableRemote(call.providerContext, call.loaded.destination, {
          keyName: key ?? "",
          version: version ?? 0,
          remoteId,
        });
      } catch (error) {
        if (isRetryable(error)) throw error;
        const reason = `${codeOf(error)}: ${messageOf(error)}`;
        left.push({ remoteId, reason });
        events.push(driftEvent(ctx, kmsName, key ?? null, "drift.heal-failed", finding, { reason }));
        continue;
      }
      disabled.push({ ...(key === undefined ? {} : { key }), remoteId });
      events.push(driftEvent(ctx, kmsName, key ?? null, "drift.healed", finding, { repair: "disabled" }));
    }
    await ctx.deps.db.transaction((tx) => appendToLedger(tx, events));
    return { disabled, left };
  });
}

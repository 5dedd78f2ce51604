import { parseKeyVaultKeyIdentifier } from "@azure/keyvault-keys";
import type { CopyRepair, ManagedCopy, RemoteCopy } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { isNotFound } from "./errors.js";
import { applyMinEnabledVersion } from "./lifecycle.js";
import type { AzureSession } from "./session.js";
import { findDeletedKey, listVersions, recoverDeletedKey, setVersionEnabled } from "./vault-calls.js";

/**
 * Drift repair of a copy that still exists (reconcile with `heal`). Only idempotent requests, so no journal:
 * a soft-deleted key is recovered with all its versions (allowed under purge protection), then each version
 * is enabled or disabled per the minimum. Key Vault has no way to delete one version, so a recorded version
 * missing from a live key means keyferry's record is wrong: that is refused rather than papered over.
 * Imports (a purged copy, making keyferry's latest version current again) go through distribute and rotate.
 */
export async function repairCopy(
  session: AzureSession,
  copy: RemoteCopy,
  repair: CopyRepair,
): Promise<RemoteCopy> {
  if ((await listVersions(session, copy.remoteName)).length === 0) {
    if (await findDeletedKey(session, copy.remoteName)) await recoverDeletedKey(session, copy.remoteName);
  }
  if (repair.reimport.length > 0) {
    const missing = repair.reimport.map((source) => `v${source.version}`).join(", ");
    throw new ProviderError(
      "permanent",
      "VersionMissing",
      `Azure Key Vault key ${copy.remoteName} lacks ${missing} although the key exists; Key Vault cannot ` +
        "delete single versions, so keyferry's record does not match this key: remove the copy and distribute it again",
    );
  }
  return applyMinEnabledVersion(session, copy, repair.minEnabledVersion);
}

/** Disable one key version keyferry does not record, named by its kid; one that is gone is left alone. */
export async function disableVersion(
  session: AzureSession,
  remote: Pick<ManagedCopy, "keyName" | "version" | "remoteId">,
): Promise<void> {
  const { name, version } = parseKeyVaultKeyIdentifier(remote.remoteId);
  if (!version) {
    throw new ProviderError("permanent", "InvalidKid", `not a versioned Azure key id: ${remote.remoteId}`);
  }
  try {
    await setVersionEnabled(session, name, version, false, { version: remote.version, kid: remote.remoteId });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return;
  }
  session.logger.info(
    { op: "updateKeyProperties", key: remote.keyName, kid: remote.remoteId },
    "version keyferry does not record disabled",
  );
}

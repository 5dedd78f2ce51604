import { parseKeyVaultKeyIdentifier } from "@azure/keyvault-keys";
import type { RemoteCopy, RemoteVersion } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import type { AzureSession } from "./session.js";
import { listVersions, purgeDeletedKey, setVersionEnabled, softDeleteKey } from "./vault-calls.js";

/**
 * Minimum enabled version and removal (SPEC section 4). Both consist of idempotent requests only, so they
 * need no journal: repeating them converges on the same remote state.
 */

/** `updateKeyProperties(enabled)` on each version whose remote state differs from what the minimum asks. */
export async function applyMinEnabledVersion(
  session: AzureSession,
  copy: RemoteCopy,
  minEnabledVersion: number,
): Promise<RemoteCopy> {
  const remote = new Map(
    (await listVersions(session, copy.remoteName)).map((properties) => [properties.version, properties]),
  );
  const versions: RemoteVersion[] = [];
  for (const version of copy.versions) {
    const enabled = version.version >= minEnabledVersion;
    const azureVersion = azureVersionOf(version);
    if (remote.get(azureVersion)?.enabled !== enabled) {
      await setVersionEnabled(session, copy.remoteName, azureVersion, enabled, {
        version: version.version,
        kid: version.remoteId,
      });
    }
    versions.push({ ...version, state: enabled ? "enabled" : "disabled" });
  }
  return { ...copy, versions };
}

/**
 * Soft-delete the key: every version stops working with that answer. With `purgeOnRemove` it is purged as
 * well, which needs the deletion to have completed first; purge protection makes that a permanent refusal.
 */
export async function removeCopy(session: AzureSession, copy: RemoteCopy): Promise<void> {
  const purge = session.destination.options.purgeOnRemove === true;
  const deleted = await softDeleteKey(session, copy.remoteName, purge);
  session.logger.info(
    { op: "beginDeleteKey", name: copy.remoteName, deleted },
    deleted ? "copy soft-deleted" : "copy was already deleted",
  );
  if (purge) {
    await purgeDeletedKey(session, copy.remoteName);
    session.logger.info({ op: "purgeDeletedKey", name: copy.remoteName }, "copy purged");
  }
}

/** The Azure version id of a copy's version: recorded in its detail, else the last segment of its kid. */
export function azureVersionOf(version: RemoteVersion): string {
  const recorded = version.detail.azureVersion;
  if (typeof recorded === "string" && recorded !== "") return recorded;
  const parsed = parseKeyVaultKeyIdentifier(version.remoteId).version;
  if (!parsed) {
    throw new ProviderError(
      "permanent",
      "InvalidKid",
      `keyferry's record of version ${version.version} names no Azure version: ${version.remoteId}`,
    );
  }
  return parsed;
}

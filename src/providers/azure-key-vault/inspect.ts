import type { KeyVaultKey } from "@azure/keyvault-keys";
import type { ManagedCopy, RemoteCopy, RemoteState, VerifyReport, VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { type KeyferryTags, parseKeyferryTags } from "../tags.js";
import { aesRoundTrip } from "./aes-check.js";
import { isNotFound, remoteCodeOf } from "./errors.js";
import { azureVersionOf } from "./lifecycle.js";
import { remoteKeyName } from "./names.js";
import { samePublicKey } from "./public-keys.js";
import type { AzureSession } from "./session.js";
import { findDeletedKey, listVersions } from "./vault-calls.js";

/** describe, verify and listManaged: reading what Key Vault holds, never changing it. */

/**
 * The copy's versions as Azure reports them. A soft-deleted key lists no versions; while it can still be
 * recovered every version is `pending-deletion`, and once purged the copy no longer exists.
 */
export async function describeCopy(session: AzureSession, copy: RemoteCopy): Promise<RemoteState> {
  const listed = await listVersions(session, copy.remoteName);
  if (listed.length === 0) {
    const deleted = await findDeletedKey(session, copy.remoteName);
    const state = deleted ? "pending-deletion" : "deleted";
    return {
      exists: deleted !== undefined,
      versions: copy.versions.map(({ version, remoteId }) => ({ version, remoteId, state })),
    };
  }
  const byVersion = new Map(listed.map((properties) => [properties.version, properties]));
  return {
    exists: true,
    versions: copy.versions.map((recorded) => {
      const found = byVersion.get(azureVersionOf(recorded));
      const state = found === undefined ? "deleted" : found.enabled ? "enabled" : "disabled";
      return { version: recorded.version, remoteId: recorded.remoteId, state };
    }),
  };
}

/**
 * The kid of the version that callers naming the key without a version get: the newest one. A newer version
 * made in the portal takes that place from keyferry's latest; a disabled one leaves such callers nothing.
 */
export async function currentVersionOf(session: AzureSession, name: string): Promise<string | null> {
  try {
    const current = await session.call("getKey", (options) => session.clients.keys.getKey(name, options), {
      name,
      idempotent: true,
    });
    return current.id ?? null;
  } catch (error) {
    if (isNotFound(error) || remoteCodeOf(error) === "KeyDisabled") return null;
    throw error;
  }
}

type VersionCheck = VerifyReport["versions"][number];

/** Each given version read back from Azure and compared with keyferry's own (see checkVersion). */
export async function verifyCopy(
  session: AzureSession,
  copy: RemoteCopy,
  sources: readonly VersionSource[],
): Promise<VerifyReport> {
  const versions: VersionCheck[] = [];
  for (const source of sources) versions.push(await checkVersion(session, copy, source));
  return { ok: versions.length > 0 && versions.every((check) => check.ok), versions };
}

/**
 * Asymmetric keys: the public key Azure holds equals ours. AES keys (Managed HSM): a round trip between Azure
 * and our material. A disabled version cannot be read at all; it passes only when keyferry disabled it.
 */
async function checkVersion(
  session: AzureSession,
  copy: RemoteCopy,
  source: VersionSource,
): Promise<VersionCheck> {
  const { version } = source;
  const recorded = copy.versions.find((candidate) => candidate.version === version);
  if (!recorded) return { version, ok: false, reason: "not in keyferry's record of this copy" };
  let found: KeyVaultKey;
  try {
    found = await session.call(
      "getKey",
      (options) =>
        session.clients.keys.getKey(copy.remoteName, { ...options, version: azureVersionOf(recorded) }),
      { name: copy.remoteName, version, kid: recorded.remoteId, idempotent: true },
    );
  } catch (error) {
    if (isNotFound(error)) return { version, ok: false, reason: "not found in Azure" };
    if (remoteCodeOf(error) !== "KeyDisabled") throw error;
    return recorded.state === "disabled"
      ? { version, ok: true, reason: "disabled, as keyferry recorded; not readable while disabled" }
      : { version, ok: false, reason: "disabled in Azure, enabled in keyferry's record" };
  }
  if (source.publicKey !== null) {
    if (!found.key)
      throw new ProviderError("transient", "IncompleteAnswer", "Azure returned a key without JWK");
    return samePublicKey(found.key, source.publicKey)
      ? { version, ok: true }
      : { version, ok: false, reason: "the public key in Azure differs from keyferry's" };
  }
  const matches = await aesRoundTrip(session, copy.remoteName, found, source);
  return matches
    ? { version, ok: true }
    : { version, ok: false, reason: "an AES round trip with keyferry's material failed" };
}

/**
 * Every key version in the vault carrying keyferry's tags for this destination. Keys are recognised by the
 * tags of their latest version (what the list answer carries), then their versions are listed; soft-deleted
 * keys appear with the tags of their latest version only, which is all Key Vault shows of them. KEKs carry no
 * key tag. Several destinations may share a vault (different name prefixes): a version belongs to this one
 * when its `keyferry:kms` tag names it, or, without that tag, when it lives under the name this destination
 * gives its key.
 */
export async function listManagedCopies(session: AzureSession): Promise<ManagedCopy[]> {
  const { keys } = session.clients;
  const ours = (name: string, tags: KeyferryTags) => belongsHere(session, name, tags);
  const [names, deleted] = await Promise.all([
    session.call(
      "listPropertiesOfKeys",
      async (options) => {
        const found: string[] = [];
        for await (const properties of keys.listPropertiesOfKeys(options)) {
          if (parseKeyferryTags(properties.tags ?? {})) found.push(properties.name);
        }
        return found;
      },
      { idempotent: true },
    ),
    session.call(
      "listDeletedKeys",
      async (options) => {
        const found: ManagedCopy[] = [];
        for await (const key of keys.listDeletedKeys(options)) {
          const tags = parseKeyferryTags(key.properties.tags ?? {});
          if (tags && key.id && ours(key.name, tags)) {
            found.push(managedCopy(tags, key.name, key.id, "pending-deletion"));
          }
        }
        return found;
      },
      { idempotent: true },
    ),
  ]);
  const live: ManagedCopy[] = [];
  for (const name of names) {
    for (const properties of await listVersions(session, name)) {
      const tags = parseKeyferryTags(properties.tags ?? {});
      if (tags && properties.id && ours(name, tags)) {
        live.push(managedCopy(tags, name, properties.id, properties.enabled ? "enabled" : "disabled"));
      }
    }
  }
  return [...live, ...deleted];
}

function belongsHere(session: AzureSession, name: string, tags: KeyferryTags): boolean {
  if (tags.kms !== undefined) return tags.kms === session.destination.name;
  try {
    return remoteKeyName(tags.keyName, session.destination.options).toLowerCase() === name.toLowerCase();
  } catch {
    // A key name this destination could never hold (too long once encoded) is not its copy.
    return false;
  }
}

function managedCopy(
  tags: KeyferryTags,
  remoteName: string,
  remoteId: string,
  state: ManagedCopy["state"],
): ManagedCopy {
  return {
    keyName: tags.keyName,
    version: tags.version,
    remoteId,
    state,
    operationId: tags.operationId,
    kms: tags.kms,
    remoteName,
  };
}

import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { KeyToDistribute, RemoteCopy, RemoteVersion, VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { parseKeyferryTags, TAG_OPERATION } from "../tags.js";
import { importVersion } from "./import-version.js";
import { discardKek, type Kek, obtainKek } from "./kek.js";
import { remoteKeyName } from "./names.js";
import type { AzureSession } from "./session.js";
import type { AzureKeyShape } from "./support.js";
import { findDeletedKey, listVersions, recoverDeletedKey, setVersionEnabled } from "./vault-calls.js";

/**
 * distribute and rotate (SPEC section 4): KEK → one `importKey` per version, in order → delete the KEK.
 *
 * Redistribution while an earlier copy sits soft-deleted: Key Vault refuses the name until it is recovered or
 * purged. keyferry recovers it — recovery works under purge protection and is immediate, where a purge may be
 * forbidden and takes time — then imports this distribution's versions as new Azure versions and disables
 * every version that does not belong to this distribution, so that exactly one enabled Azure version exists
 * per keyferry version, the latest import is current, and the old versions stay as history. A name that is
 * still being purged (`purgeOnRemove`) answers 409 and is retried as transient until the purge settles.
 */

export async function distributeKey(
  session: AzureSession,
  key: KeyToDistribute,
  shape: AzureKeyShape,
  versions: readonly VersionSource[],
): Promise<RemoteCopy> {
  if (versions.length === 0) {
    throw new InvalidInputError("no_versions", `distribute of ${key.name} to Azure was given no versions`);
  }
  const remoteName = remoteKeyName(key.name, session.destination.options);
  await prepareName(session, key, remoteName);
  const ordered = [...versions].sort((a, b) => a.version - b.version);
  const imported = await withKek(session, async (kek) => {
    const done: RemoteVersion[] = [];
    for (const source of ordered) {
      done.push(await importVersion(session, { remoteName, key, shape, kek }, source));
    }
    return done;
  });
  await disableOtherVersions(session, key, remoteName);
  return { remoteName, versions: imported, detail: copyDetail(session, shape) };
}

export async function rotateKey(
  session: AzureSession,
  key: KeyToDistribute,
  shape: AzureKeyShape,
  copy: RemoteCopy,
  source: VersionSource,
): Promise<RemoteCopy> {
  // A version the copy already holds was imported by an earlier rotation: importing again would duplicate it.
  if (copy.versions.some((version) => version.version === source.version)) return copy;
  // Azure makes the newest version current by itself: importing it is the whole rotation.
  const added = await withKek(session, (kek) =>
    importVersion(session, { remoteName: copy.remoteName, key, shape, kek }, source),
  );
  const others = copy.versions.filter((version) => version.version !== source.version);
  return { ...copy, versions: [...others, added].sort((a, b) => a.version - b.version) };
}

/**
 * Run the imports with a KEK made on first need, and delete it afterwards. A permanent failure deletes it too
 * (nothing will come back for it); after a transient one it stays for the retry, which reuses it.
 */
async function withKek<T>(
  session: AzureSession,
  imports: (kek: () => Promise<Kek>) => Promise<T>,
): Promise<T> {
  let kek: Promise<Kek> | undefined;
  const lazyKek = () => {
    kek ??= obtainKek(session);
    return kek;
  };
  let result: T;
  try {
    result = await imports(lazyKek);
  } catch (error) {
    if (!(error instanceof ProviderError && error.kind !== "permanent")) {
      await discardKek(session).catch((cleanup: unknown) =>
        session.logger.warn({ op: "deleteKey", err: cleanup }, "KEK left after a failed import"),
      );
    }
    throw error;
  }
  await discardKek(session);
  return result;
}

/**
 * Make the name ready for new versions: refuse it when it holds versions of something else (another key, or
 * a key keyferry did not create), since importing into it would mix them; recover it when soft-deleted, and
 * then disable the recovered versions at once, so that a removed copy never works again, not even until the
 * imports are done.
 */
async function prepareName(session: AzureSession, key: KeyToDistribute, remoteName: string): Promise<void> {
  const deleted = await findDeletedKey(session, remoteName);
  if (deleted && parseKeyferryTags(deleted.properties.tags ?? {})?.keyName !== key.name)
    throw nameInUse(key, remoteName);
  if (deleted) await recoverDeletedKey(session, remoteName);
  const versions = await listVersions(session, remoteName);
  if (versions.some((properties) => parseKeyferryTags(properties.tags ?? {})?.keyName !== key.name)) {
    throw nameInUse(key, remoteName);
  }
  if (deleted) await disableOtherVersions(session, key, remoteName);
}

function nameInUse(key: KeyToDistribute, remoteName: string): ProviderError {
  return new ProviderError(
    "permanent",
    "NameInUse",
    `Azure Key Vault: the key name ${remoteName} holds versions that are not keyferry's copies of ${key.name}`,
  );
}

/**
 * Every enabled version not imported by this operation is disabled: the versions of an earlier copy of this
 * key, recovered or still live, which this distribution replaces.
 */
async function disableOtherVersions(session: AzureSession, key: KeyToDistribute, remoteName: string) {
  const versions = await listVersions(session, remoteName);
  for (const properties of versions) {
    if (!properties.enabled || !properties.version) continue;
    if (properties.tags?.[TAG_OPERATION] === session.ctx.operationId) continue;
    const tagged = parseKeyferryTags(properties.tags ?? {});
    await setVersionEnabled(session, remoteName, properties.version, false, {
      ...(tagged ? { version: tagged.version } : {}),
      ...(properties.id ? { kid: properties.id } : {}),
    });
    session.logger.info(
      { op: "updateKeyProperties", key: key.name, kid: properties.id },
      "version of an earlier copy disabled",
    );
  }
}

function copyDetail(session: AzureSession, shape: AzureKeyShape): Record<string, unknown> {
  return { vaultUrl: session.clients.vaultUrl, kty: shape.kty, keyOps: shape.keyOps };
}

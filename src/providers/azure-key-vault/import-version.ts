import { createPrivateKey } from "node:crypto";
import type { JsonWebKey, KeyVaultKey } from "@azure/keyvault-keys";
import { buildByokFile } from "../../crypto/wrap-azure.js";
import { zero } from "../../crypto/zero.js";
import type { KeyToDistribute, RemoteVersion, VersionSource } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { keyferryTags, tagsMatch } from "../tags.js";
import type { Kek } from "./kek.js";
import { samePublicKey } from "./public-keys.js";
import type { AzureSession } from "./session.js";
import type { AzureKeyShape } from "./support.js";
import { listVersions } from "./vault-calls.js";

/**
 * One keyferry version imported as one new Azure version, exactly once. `importKey` is not idempotent (every
 * call adds a version), so the intent is journaled first; a retry that finds the intent but no result looks
 * for a version tagged with this key, version and operation before it imports again. Each kid is journaled
 * as soon as it arrives.
 */

interface ImportJournal {
  state: "importing" | "imported";
  remoteName: string;
  kid?: string;
  azureVersion?: string;
}

export interface ImportTarget {
  remoteName: string;
  key: KeyToDistribute;
  shape: AzureKeyShape;
  /** Called only when an import really has to happen (HSM protection): makes or finds the KEK. */
  kek: () => Promise<Kek>;
}

export async function importVersion(
  session: AzureSession,
  target: ImportTarget,
  source: VersionSource,
): Promise<RemoteVersion> {
  const { journal, operationId } = session.ctx;
  const entryName = `azure-import-v${source.version}`;
  const entry = journal.get(entryName) as ImportJournal | undefined;
  if (entry?.state === "imported" && entry.kid && entry.azureVersion) {
    return remoteVersion(source.version, entry.kid, entry.azureVersion, operationId);
  }
  const wanted = { keyName: target.key.name, version: source.version, operationId };
  if (entry?.state === "importing") {
    const versions = await listVersions(session, target.remoteName);
    const found = versions.find((properties) => tagsMatch(properties.tags ?? {}, wanted));
    if (found?.id && found.version) {
      await verifyImported(session, target, source, found.version);
      return record(session, entryName, target, source.version, found.id, found.version);
    }
  }

  const kek = target.shape.hsm ? await target.kek() : undefined;
  await journal.put(entryName, { state: "importing", remoteName: target.remoteName } satisfies ImportJournal);
  // Found again by key, version and operation (earlier imports carry no destination tag); tagged with the
  // destination too, so drift checks tell two destinations sharing a vault apart.
  const tags = keyferryTags({ ...wanted, kms: session.destination.name });
  const imported = await source.withMaterial((material) =>
    kek
      ? importByok(session, target, material, kek, tags, source.version)
      : importJwk(session, target, material, tags, source.version),
  );
  if (!imported.id || !imported.properties.version) {
    throw new ProviderError(
      "transient",
      "IncompleteAnswer",
      "Azure Key Vault answered an import without kid",
    );
  }
  const result = await record(
    session,
    entryName,
    target,
    source.version,
    imported.id,
    imported.properties.version,
  );
  checkPublicKey(target, source, imported.key);
  return result;
}

/** BYOK: the material wrapped for the KEK inside a `.byok` file, unwrapped only inside Azure's HSM. */
async function importByok(
  session: AzureSession,
  target: ImportTarget,
  material: Buffer,
  kek: Kek,
  tags: Record<string, string>,
  version: number,
): Promise<KeyVaultKey> {
  const byok = buildByokFile({ material, kek: kek.publicKey, kekId: kek.kid });
  const { kty, crv, keyOps } = target.shape;
  try {
    return await session.call(
      "importKey",
      (options) =>
        session.clients.keys.importKey(
          target.remoteName,
          { kty, ...(crv ? { crv } : {}), keyOps, t: byok },
          { ...options, hardwareProtected: true, tags },
        ),
      { name: target.remoteName, version, idempotent: false },
    );
  } finally {
    zero(byok);
  }
}

/**
 * Software protection: Key Vault takes the private key as JWK fields over TLS (there is no BYOK for software
 * keys). The buffers handed to the SDK are zeroed afterwards; the base64url strings Node's JWK export returns
 * cannot be, and are dropped at once.
 */
async function importJwk(
  session: AzureSession,
  target: ImportTarget,
  material: Buffer,
  tags: Record<string, string>,
  version: number,
): Promise<KeyVaultKey> {
  const exported = createPrivateKey({ key: material, format: "der", type: "pkcs8" }).export({
    format: "jwk",
  });
  const fields = target.shape.kty === "RSA" ? RSA_FIELDS : EC_FIELDS;
  const parts: Record<string, Buffer> = {};
  for (const field of fields) parts[field] = Buffer.from(exported[field] ?? "", "base64url");
  const jwk: JsonWebKey = {
    kty: target.shape.kty,
    keyOps: target.shape.keyOps,
    ...(target.shape.crv ? { crv: target.shape.crv } : {}),
    ...parts,
  };
  try {
    return await session.call(
      "importKey",
      (options) =>
        session.clients.keys.importKey(target.remoteName, jwk, {
          ...options,
          hardwareProtected: false,
          tags,
        }),
      { name: target.remoteName, version, idempotent: false },
    );
  } finally {
    zero(...Object.values(parts));
  }
}

const RSA_FIELDS = ["n", "e", "d", "p", "q", "dp", "dq", "qi"] as const;
const EC_FIELDS = ["x", "y", "d"] as const;

async function record(
  session: AzureSession,
  entryName: string,
  target: ImportTarget,
  version: number,
  kid: string,
  azureVersion: string,
): Promise<RemoteVersion> {
  const entry: ImportJournal = { state: "imported", remoteName: target.remoteName, kid, azureVersion };
  await session.ctx.journal.put(entryName, { ...entry });
  session.logger.info({ op: "importKey", key: target.key.name, version, kid }, "version imported");
  return remoteVersion(version, kid, azureVersion, session.ctx.operationId);
}

function remoteVersion(
  version: number,
  kid: string,
  azureVersion: string,
  operationId: string,
): RemoteVersion {
  return { version, remoteId: kid, state: "enabled", detail: { azureVersion, operationId } };
}

/** A version found after a lost answer is read back, so that it is checked like a fresh import. */
async function verifyImported(
  session: AzureSession,
  target: ImportTarget,
  source: VersionSource,
  azureVersion: string,
): Promise<void> {
  if (source.publicKey === null) return;
  const found = await session.call(
    "getKey",
    (options) => session.clients.keys.getKey(target.remoteName, { ...options, version: azureVersion }),
    { name: target.remoteName, version: source.version, idempotent: true },
  );
  checkPublicKey(target, source, found.key);
}

/** Azure answers an import with the public key it now holds: it must be ours (SPEC section 4, verify). */
function checkPublicKey(target: ImportTarget, source: VersionSource, jwk: JsonWebKey | undefined): void {
  if (source.publicKey === null) return;
  if (!jwk || !samePublicKey(jwk, source.publicKey)) {
    throw new ProviderError(
      "permanent",
      "PublicKeyMismatch",
      `Azure Key Vault holds another public key than keyferry for ${target.key.name} v${source.version}`,
    );
  }
}

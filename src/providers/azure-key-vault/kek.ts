import type { KeyObject } from "node:crypto";
import type { KeyVaultKey } from "@azure/keyvault-keys";
import { ProviderError } from "../provider-error.js";
import { TAG_OPERATION } from "../tags.js";
import { isDeletedButRecoverable, isNotFound } from "./errors.js";
import { kekName } from "./names.js";
import { publicKeyFromJwk } from "./public-keys.js";
import type { AzureSession } from "./session.js";
import { findDeletedKey, purgeDeletedKey, recoverDeletedKey, softDeleteKey } from "./vault-calls.js";

/**
 * The key exchange key (KEK) of one operation: RSA-HSM 4096 with `import` as its only operation (BYOK
 * specification), created in the target vault when the first HSM import needs it and deleted when the step
 * is done. Its name comes from the operation id, and its state is journaled, so that a retried step reuses
 * the KEK an interrupted attempt created instead of leaving a second one behind.
 */

export const KEK_BITS = 4096;
/** Marks a KEK among keyferry's objects; it carries no key or version tag, so drift listings skip it. */
export const TAG_ROLE = "keyferry:role";
const JOURNAL_ENTRY = "azure-kek";

export interface Kek {
  /** The versioned kid: the `.byok` header names exactly this version. */
  kid: string;
  publicKey: KeyObject;
}

interface KekJournal {
  name: string;
  state: "creating" | "created" | "deleted";
  kid?: string;
}

/**
 * The operation's KEK: reused when it exists (also soft-deleted by an earlier attempt), created otherwise.
 * Inside a bulk run the run's KEK serves every import of the vault (see `obtainBatchKek`).
 */
export async function obtainKek(session: AzureSession): Promise<Kek> {
  if (session.ctx.batch) return obtainBatchKek(session, session.ctx.batch.id);
  const { journal, operationId } = session.ctx;
  const name = kekName(operationId);
  const entry = journal.get(JOURNAL_ENTRY) as KekJournal | undefined;
  // With no journal entry, no attempt of this step ever asked for a KEK: creating is the first move. After
  // an entry, the KEK may exist although its answer was lost: looking costs one read, a second KEK a create.
  let kek = entry ? await findKek(session, name) : undefined;
  if (!kek) {
    await journal.put(JOURNAL_ENTRY, { name, state: "creating" } satisfies KekJournal);
    kek = await createKek(session, name);
  }
  if (entry?.state !== "created" || entry.kid !== kek.kid) {
    await journal.put(JOURNAL_ENTRY, { name, state: "created", kid: kek.kid } satisfies KekJournal);
  }
  return kek;
}

/**
 * Delete the operation's KEK, if this step made one. It is only a public wrapping key whose private half never
 * leaves the HSM, so a soft-deleted KEK is harmless; it is purged as well when the destination purges removed
 * keys (`purgeOnRemove`), where a refusal to purge (purge protection) leaves it to the vault's retention.
 */
export async function discardKek(session: AzureSession): Promise<void> {
  // The run's KEK outlives the steps that use it: `discardBatchKek` deletes it when the run ends.
  if (session.ctx.batch) return;
  const { journal } = session.ctx;
  const entry = journal.get(JOURNAL_ENTRY) as KekJournal | undefined;
  if (!entry || entry.state === "deleted") return;
  const purge = session.destination.options.purgeOnRemove === true;
  await softDeleteKey(session, entry.name, purge);
  if (purge) {
    try {
      await purgeDeletedKey(session, entry.name);
    } catch (error) {
      if (!(error instanceof ProviderError && error.kind === "permanent")) throw error;
      session.logger.warn(
        { op: "purgeDeletedKey", name: entry.name, remoteCode: error.remoteCode },
        "KEK not purged",
      );
    }
  }
  await journal.put(JOURNAL_ENTRY, { ...entry, state: "deleted" } satisfies KekJournal);
  session.logger.info({ op: "deleteKey", name: entry.name }, "KEK deleted");
}

/**
 * The KEK of bulk run `batchId` in this vault: one RSA-HSM create for the whole run instead of one per key,
 * which halves the run's use of the vault's HSM create quota. The run's parent makes it before any child
 * runs (`prepareBatch`); a child finds it by name and makes it only if it is gone.
 */
export async function obtainBatchKek(session: AzureSession, batchId: string): Promise<Kek> {
  const name = kekName(batchId);
  return (await findKek(session, name)) ?? createKek(session, name);
}

/** Delete (and purge, under `purgeOnRemove`) the run's KEK; nothing to do when it is already gone. */
export async function discardBatchKek(session: AzureSession, batchId: string): Promise<void> {
  const name = kekName(batchId);
  const purge = session.destination.options.purgeOnRemove === true;
  const deleted = await softDeleteKey(session, name, purge);
  if (purge && (deleted || (await findDeletedKey(session, name)))) {
    try {
      await purgeDeletedKey(session, name);
    } catch (error) {
      if (!(error instanceof ProviderError && error.kind === "permanent")) throw error;
      session.logger.warn({ op: "purgeDeletedKey", name, remoteCode: error.remoteCode }, "KEK not purged");
    }
  }
  if (deleted) session.logger.info({ op: "deleteKey", name }, "bulk run's KEK deleted");
}

async function createKek(session: AzureSession, name: string): Promise<Kek> {
  try {
    const created = await session.call(
      "createKey",
      (options) =>
        session.clients.keys.createRsaKey(name, {
          ...options,
          hsm: true,
          keySize: KEK_BITS,
          keyOps: ["import"],
          tags: { [TAG_OPERATION]: session.ctx.operationId, [TAG_ROLE]: "kek" },
        }),
      { name, idempotent: false },
    );
    session.logger.info({ op: "createKey", name, kid: created.id }, "KEK created");
    return asKek(created);
  } catch (error) {
    // The name is soft-deleted: an earlier attempt of this operation finished with the KEK and deleted it.
    if (!isDeletedButRecoverable(error)) throw error;
    await recoverDeletedKey(session, name);
    const recovered = await findKek(session, name, false);
    if (!recovered) throw error;
    return recovered;
  }
}

/**
 * The KEK under `name` if it is there and usable as one (RSA-HSM, `import` only, enabled); a soft-deleted one
 * (an earlier attempt got as far as deleting it) is recovered once.
 */
async function findKek(session: AzureSession, name: string, mayRecover = true): Promise<Kek | undefined> {
  let found: KeyVaultKey;
  try {
    found = await session.call("getKey", (options) => session.clients.keys.getKey(name, options), {
      name,
      idempotent: true,
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    if (!mayRecover || !(await findDeletedKey(session, name))) return undefined;
    await recoverDeletedKey(session, name);
    return findKek(session, name, false);
  }
  const ops = found.keyOperations ?? [];
  if (found.keyType !== "RSA-HSM" || ops.length !== 1 || ops[0] !== "import" || !found.properties.enabled) {
    throw new ProviderError(
      "permanent",
      "KekNameInUse",
      `Azure Key Vault: ${name} exists but is not a usable key exchange key (RSA-HSM, import only, enabled)`,
    );
  }
  return asKek(found);
}

function asKek(key: KeyVaultKey): Kek {
  if (!key.id || !key.key) {
    throw new ProviderError(
      "transient",
      "IncompleteAnswer",
      "Azure Key Vault returned a KEK without kid or key",
    );
  }
  return { kid: key.id, publicKey: publicKeyFromJwk(key.key) };
}

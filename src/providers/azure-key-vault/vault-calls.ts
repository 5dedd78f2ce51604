import type { DeletedKey, KeyProperties } from "@azure/keyvault-keys";
import { isNotFound } from "./errors.js";
import type { AzureSession } from "./session.js";

/**
 * Key Vault requests that are safe to repeat, each with the meaning of "not found" decided once: a name
 * without versions, a deletion that already happened, a purge that is already done.
 */

/** Every version under `name`, disabled ones included; none when the name does not exist (or is deleted). */
export async function listVersions(session: AzureSession, name: string): Promise<KeyProperties[]> {
  try {
    return await session.call(
      "listPropertiesOfKeyVersions",
      async (options) => {
        const versions: KeyProperties[] = [];
        for await (const properties of session.clients.keys.listPropertiesOfKeyVersions(name, options)) {
          versions.push(properties);
        }
        return versions;
      },
      { name, idempotent: true },
    );
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** The soft-deleted key under `name`, if there is one. */
export async function findDeletedKey(session: AzureSession, name: string): Promise<DeletedKey | undefined> {
  try {
    return await session.call(
      "getDeletedKey",
      (options) => session.clients.keys.getDeletedKey(name, options),
      { name, idempotent: true },
    );
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Bring a soft-deleted key back with all its versions (allowed under purge protection, unlike a purge) and
 * wait until it is usable again. Repeating it after it succeeded finds nothing to recover and returns.
 */
export async function recoverDeletedKey(session: AzureSession, name: string): Promise<void> {
  try {
    await session.call(
      "beginRecoverDeletedKey",
      async (options) => {
        const poller = await session.clients.keys.beginRecoverDeletedKey(name, options);
        await poller.pollUntilDone();
      },
      { name, idempotent: true },
    );
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  session.logger.info({ op: "beginRecoverDeletedKey", name }, "soft-deleted key recovered");
}

/**
 * Soft-delete every version of `name`: from this answer on, no version can be used. With `waitUntilDeleted`
 * the call returns only once the deleted key is visible, which a purge needs. Returns false when there was
 * nothing (left) to delete.
 */
export async function softDeleteKey(
  session: AzureSession,
  name: string,
  waitUntilDeleted: boolean,
): Promise<boolean> {
  try {
    await session.call(
      "beginDeleteKey",
      async (options) => {
        const poller = await session.clients.keys.beginDeleteKey(name, options);
        if (waitUntilDeleted) await poller.pollUntilDone();
      },
      { name, idempotent: true },
    );
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Purge a soft-deleted key for good; a purge that already happened is not an error. */
export async function purgeDeletedKey(session: AzureSession, name: string): Promise<void> {
  try {
    await session.call("purgeDeletedKey", (options) => session.clients.keys.purgeDeletedKey(name, options), {
      name,
      idempotent: true,
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function setVersionEnabled(
  session: AzureSession,
  name: string,
  azureVersion: string,
  enabled: boolean,
  fields: { version?: number; kid?: string } = {},
): Promise<void> {
  await session.call(
    "updateKeyProperties",
    (options) => session.clients.keys.updateKeyProperties(name, azureVersion, { ...options, enabled }),
    { name, ...fields, idempotent: true },
  );
}

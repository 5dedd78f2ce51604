import type { Logger } from "../../logger.js";
import type { KeyToDistribute, KmsDestination, KmsProvider, ProviderContext } from "../kms-provider.js";
import { VaultClientCache } from "./clients.js";
import { distributeKey, rotateKey } from "./distribute.js";
import { currentVersionOf, describeCopy, listManagedCopies, verifyCopy } from "./inspect.js";
import { discardBatchKek, obtainBatchKek } from "./kek.js";
import { applyMinEnabledVersion, removeCopy } from "./lifecycle.js";
import { disableVersion, repairCopy } from "./repair.js";
import { type AzureSession, azureSession, DEFAULT_RETRY, type RetryPolicy } from "./session.js";
import { azureKeyShape } from "./support.js";

/**
 * Azure Key Vault (and Managed HSM) behind keyferry's KmsProvider, over @azure/keyvault-keys (SPEC sections
 * 2–4). Where each part lives:
 * - support.ts: what Azure can hold (key types, purposes → key_ops, protection), refused with a 422;
 * - names.ts: keyferry names → Azure names, and the KEK's name;
 * - clients.ts: vault URL, credentials, SDK clients cached per destination revision;
 * - session.ts + errors.ts: every request with keyferry's retry and error mapping;
 * - distribute.ts, import-version.ts, kek.ts: BYOK imports that survive retries without duplicates;
 * - lifecycle.ts: minimum enabled version and removal; inspect.ts: describe, verify, drift listing;
 * - repair.ts: drift repair (recover, states) and disabling versions keyferry does not record.
 */

export interface AzureKeyVaultProviderDeps {
  logger?: Logger;
  /** keyferry's in-place retry of one request; tests shorten it or inject a sleep. */
  retry?: Partial<RetryPolicy>;
}

export function createAzureKeyVaultProvider(deps: AzureKeyVaultProviderDeps = {}): KmsProvider {
  const clients = new VaultClientCache(deps.logger);
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const session = (ctx: ProviderContext, destination: KmsDestination): AzureSession =>
    azureSession(ctx, destination, clients.get(destination), retry);
  const logged = (
    ctx: ProviderContext,
    destination: KmsDestination,
    operation: string,
    key?: KeyToDistribute,
  ) =>
    ctx.logger.info(
      { op: operation, kms: destination.name, ...(key ? { key: key.name } : {}) },
      `azure key vault ${operation}`,
    );

  return {
    provider: "azurekeyvault",

    checkSupport(destination, key) {
      azureKeyShape(destination, key);
    },

    async distribute(ctx, destination, key, versions) {
      const shape = azureKeyShape(destination, key);
      logged(ctx, destination, "distribute", key);
      return distributeKey(session(ctx, destination), key, shape, versions);
    },

    async rotate(ctx, destination, key, copy, version) {
      const shape = azureKeyShape(destination, key);
      logged(ctx, destination, "rotate", key);
      return rotateKey(session(ctx, destination), key, shape, copy, version);
    },

    async setMinEnabledVersion(ctx, destination, key, copy, minEnabledVersion) {
      logged(ctx, destination, "setMinEnabledVersion", key);
      return applyMinEnabledVersion(session(ctx, destination), copy, minEnabledVersion);
    },

    async remove(ctx, destination, key, copy) {
      logged(ctx, destination, "remove", key);
      await removeCopy(session(ctx, destination), copy);
    },

    async describe(ctx, destination, _key, copy) {
      return describeCopy(session(ctx, destination), copy);
    },

    async nameTarget(ctx, destination, _key, copy) {
      return currentVersionOf(session(ctx, destination), copy.remoteName);
    },

    async verify(ctx, destination, key, copy, versions) {
      logged(ctx, destination, "verify", key);
      return verifyCopy(session(ctx, destination), copy, versions);
    },

    async prepareBatch(ctx, destination, batchId) {
      await obtainBatchKek(session(ctx, destination), batchId);
    },

    async finishBatch(ctx, destination, batchId) {
      await discardBatchKek(session(ctx, destination), batchId);
    },

    async listManaged(ctx, destination) {
      return listManagedCopies(session(ctx, destination));
    },

    async repair(ctx, destination, key, copy, repair) {
      logged(ctx, destination, "repair", key);
      return repairCopy(session(ctx, destination), copy, repair);
    },

    async disableRemote(ctx, destination, remote) {
      await disableVersion(session(ctx, destination), remote);
    },

    close: () => clients.close(),
  };
}

/** For intake (`PUT /v1/kms/{name}`): the same check of `keyCollection` the provider applies. */
export { resolveVaultEndpoint } from "./clients.js";

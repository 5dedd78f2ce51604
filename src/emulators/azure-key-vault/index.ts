import type { AddressInfo } from "node:net";
import { FaultInjector } from "../common/faults.js";
import type { EmulatorOptions, RunningEmulator } from "../common/options.js";
import { QuotaLimiter } from "../common/quota.js";
import { StateFile } from "../common/state-file.js";
import type { VaultContext } from "./context.js";
import { MANAGED_HSM_QUOTAS, VAULT_QUOTAS } from "./quotas.js";
import { buildServer } from "./server.js";
import { restore, type StoredState, snapshot } from "./state/persistence.js";
import { VaultState } from "./state/vault-state.js";

/**
 * An Azure Key Vault (keys) emulator that @azure/keyvault-keys talks to unchanged, given the URL this
 * returns and the client options `allowInsecureConnection: true` (plain http) and
 * `disableChallengeResourceVerification: true` (the challenge names vault.azure.net, not 127.0.0.1).
 *
 * `managedHsm` emulates a Managed HSM instead of a vault (HSM key types only, AES keys, its quotas);
 * `purgeDelayMs` keeps a purged name unusable for that long, as the real asynchronous purge does.
 */
export async function startAzureKeyVaultEmulator(
  options: EmulatorOptions & { managedHsm?: boolean; purgeDelayMs?: number } = {},
): Promise<RunningEmulator> {
  const now = options.now ?? Date.now;
  const managedHsm = options.managedHsm ?? false;
  const state = new VaultState(now, options.purgeDelayMs ?? 0);
  const quota = new QuotaLimiter(managedHsm ? MANAGED_HSM_QUOTAS : VAULT_QUOTAS, options.quota, now);
  const faults = new FaultInjector();
  if (options.faults) faults.configure(options.faults);

  const stateFile = options.stateFile
    ? new StateFile<StoredState>(options.stateFile, () => snapshot(state))
    : undefined;
  if (stateFile) {
    const saved = await stateFile.load();
    if (saved !== undefined) restore(state, saved, stateFile.path);
  }

  let vaultUrl = "";
  const context: VaultContext = {
    state,
    managedHsm,
    quota,
    faults,
    logger: options.logger,
    now,
    vaultUrl: () => vaultUrl,
    persist: async () => {
      await stateFile?.save();
    },
  };
  const app = buildServer(context);
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 0 });
  vaultUrl = `http://${urlHost(host)}:${(app.server.address() as AddressInfo).port}`;
  options.logger?.debug({ url: vaultUrl, managedHsm }, "azure key vault emulator listening");

  return {
    url: vaultUrl,
    faults,
    quota,
    close: async () => {
      await app.close();
      await stateFile?.save();
    },
  };
}

/** A wildcard listen address is reachable on loopback; IPv6 literals need brackets in a URL. */
function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

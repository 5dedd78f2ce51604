import type { Logger } from "../../logger.js";
import type { FaultInjector } from "../common/faults.js";
import type { QuotaLimiter } from "../common/quota.js";
import type { VaultState } from "./state/vault-state.js";

/** What every route needs, passed in once by the entry point (no module-level singletons). */
export interface VaultContext {
  readonly state: VaultState;
  /** A Managed HSM (AES keys, HSM types only, its own quotas) rather than a key vault. */
  readonly managedHsm: boolean;
  readonly quota: QuotaLimiter;
  readonly faults: FaultInjector;
  readonly logger: Logger | undefined;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** The vault URL without a trailing slash, known once the server listens. */
  vaultUrl(): string;
  /** Write the state file, if there is one; resolves when every change made so far is on disk. */
  persist(): Promise<void>;
}

export function nowSeconds(context: VaultContext): number {
  return Math.floor(context.now() / 1000);
}

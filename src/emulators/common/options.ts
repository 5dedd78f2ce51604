import type { Logger } from "../../logger.js";
import type { FaultConfig, FaultInjector } from "./faults.js";
import type { QuotaLimiter, QuotaMode } from "./quota.js";

/** What both emulators accept, from `keyferry emulate aws|azure` or from tests in-process. */
export interface EmulatorOptions {
  host?: string;
  /** 0 (the default) picks a free port; the URL of the running emulator says which. */
  port?: number;
  quota?: QuotaMode;
  faults?: FaultConfig;
  /** Keep state in this JSON file across restarts. */
  stateFile?: string;
  /**
   * AWS: reuse one wrapping key pair per key spec for every GetParametersForImport instead of a fresh one
   * per call (the import tokens stay distinct and bound to their key). Saves an RSA generation per import,
   * seconds of CPU for RSA_4096, for load tests and benchmarks; never what the real service does.
   */
  reuseWrappingKeys?: boolean;
  /** Milliseconds since the epoch; tests move it to expire import tokens. */
  now?: () => number;
  logger?: Logger;
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:41234 — the AWS endpoint, or the Azure vault URL. */
  url: string;
  faults: FaultInjector;
  quota: QuotaLimiter;
  close(): Promise<void>;
}

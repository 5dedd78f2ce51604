import { generateKeyPair, type KeyPairKeyObjectResult } from "node:crypto";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { FaultInjector } from "../common/faults.js";
import type { EmulatorOptions, RunningEmulator } from "../common/options.js";
import { QuotaLimiter } from "../common/quota.js";
import { StateFile } from "../common/state-file.js";
import { type StateSnapshot, snapshotOf, stateFromSnapshot } from "./persistence.js";
import { AWS_KMS_QUOTAS } from "./quotas.js";
import { buildServer } from "./server.js";
import { KmsState } from "./state.js";

/**
 * A wire-compatible AWS KMS (AWS JSON 1.1, `TrentService.*`) for `@aws-sdk/client-kms` and other SDKs:
 * point a client's `endpoint` at `url`, sign with any credentials. The operations it answers are listed in
 * operations.ts; keys, materials, aliases and tags live in memory and, with `stateFile`, on disk.
 */

export interface AwsKmsEmulatorOptions extends EmulatorOptions {
  /** The account id in ARNs and KeyMetadata; 111122223333 (the documentation's example account) by default. */
  accountId?: string;
}

export const DEFAULT_ACCOUNT_ID = "111122223333";

// On libuv's threadpool: an RSA-4096 generation takes about a second and must not stall other requests.
const generateKeyPairAsync = promisify(generateKeyPair);

export async function startAwsKmsEmulator(options: AwsKmsEmulatorOptions = {}): Promise<RunningEmulator> {
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  if (!/^\d{12}$/.test(accountId)) throw new Error(`accountId must be 12 digits (got "${accountId}")`);
  const now = options.now ?? Date.now;
  const faults = new FaultInjector();
  if (options.faults) faults.configure(options.faults);
  const quota = new QuotaLimiter(AWS_KMS_QUOTAS, options.quota ?? { kind: "off" }, now);

  let state = new KmsState();
  const stateFile = options.stateFile
    ? new StateFile<StateSnapshot>(options.stateFile, () => snapshotOf(state))
    : undefined;
  if (stateFile) {
    const saved = await stateFile.load();
    if (saved) state = stateFromSnapshot(saved, stateFile.path);
  }

  const pairs = new Map<number, Promise<KeyPairKeyObjectResult>>();
  const wrappingKeyPair = (bits: number) => {
    if (!options.reuseWrappingKeys) return generateKeyPairAsync("rsa", { modulusLength: bits });
    let pair = pairs.get(bits);
    if (!pair) {
      pair = generateKeyPairAsync("rsa", { modulusLength: bits });
      pairs.set(bits, pair);
    }
    return pair;
  };
  const app = buildServer({
    state: () => state,
    faults,
    quota,
    now,
    wrappingKeyPair,
    accountId,
    logger: options.logger,
    persist: async () => {
      await stateFile?.save();
    },
  });
  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const address = app.server.address() as AddressInfo;

  return {
    url: `http://${urlHost(address.address)}:${address.port}`,
    faults,
    quota,
    close: async () => {
      await app.close();
      await stateFile?.save();
    },
  };
}

/** A wildcard listen address is reached through loopback; IPv6 literals need brackets in a URL. */
function urlHost(address: string): string {
  if (address === "0.0.0.0") return "127.0.0.1";
  if (address === "::") return "[::1]";
  return address.includes(":") ? `[${address}]` : address;
}

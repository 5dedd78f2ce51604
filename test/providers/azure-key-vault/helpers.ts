import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { KeyClient, type KeyProperties } from "@azure/keyvault-keys";
import { generateKeyMaterial } from "../../../src/crypto/generate.js";
import type { KeyType } from "../../../src/crypto/key-types.js";
import { zero } from "../../../src/crypto/zero.js";
import { startAzureKeyVaultEmulator } from "../../../src/emulators/azure-key-vault/index.js";
import type { EmulatorOptions, RunningEmulator } from "../../../src/emulators/common/options.js";
import { createLogger } from "../../../src/logger.js";
import { createAzureKeyVaultProvider } from "../../../src/providers/azure-key-vault/index.js";
import type {
  KmsDestination,
  KmsOptions,
  KmsProvider,
  ProviderContext,
  VersionSource,
} from "../../../src/providers/kms-provider.js";
import { type MemoryJournal, memoryJournal } from "../../helpers/step-journal.js";

/**
 * Shared by the Azure Key Vault provider tests: an emulator in-process (on a clock the retry's sleep moves,
 * so that throttling tests wait for nothing), a provider pointed at it, a log capture, and an SDK client that
 * checks the vault's state independently of the provider.
 */

export interface Harness {
  emulator: RunningEmulator;
  provider: KmsProvider;
  destination: KmsDestination;
  /** Straight to the emulator, for assertions. */
  vault: KeyClient;
  /** Every log line the provider wrote, as text. */
  logs: string[];
  /** Delays the provider's retry loop slept. */
  sleeps: number[];
  /** Move the emulator's clock on (as the retry's sleeps do). */
  advance(ms: number): void;
  context(options?: {
    journal?: MemoryJournal;
    operationId?: string;
  }): ProviderContext & { journal: MemoryJournal };
  close(): Promise<void>;
}

export interface HarnessOptions {
  emulator?: EmulatorOptions & { managedHsm?: boolean; purgeDelayMs?: number };
  kms?: KmsOptions;
  attempts?: number;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  // The emulator's clock runs with real time plus whatever the provider "slept".
  let skewMs = 0;
  const now = () => Date.now() + skewMs;
  const emulator = await startAzureKeyVaultEmulator({ now, ...options.emulator });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level: "debug" }, stream);
  const sleeps: number[] = [];
  const provider = createAzureKeyVaultProvider({
    logger,
    retry: {
      attempts: options.attempts ?? 6,
      sleep: async (ms) => {
        sleeps.push(ms);
        skewMs += ms;
      },
    },
  });
  const destination: KmsDestination = {
    name: `azure-${randomUUID().slice(0, 8)}`,
    provider: "azurekeyvault",
    keyCollection: emulator.url,
    credentials: undefined,
    options: { ...(options.emulator?.managedHsm ? { managedHsm: true } : {}), ...options.kms },
    revision: 1,
  };
  return {
    emulator,
    provider,
    destination,
    vault: vaultClient(emulator.url),
    logs,
    sleeps,
    advance: (ms) => {
      skewMs += ms;
    },
    context: (ctx = {}) => ({
      operationId: ctx.operationId ?? randomUUID(),
      journal: ctx.journal ?? memoryJournal(),
      logger,
    }),
    close: () => emulator.close(),
  };
}

/** An SDK client as a user would configure one for a local vault; the emulator accepts any token. */
export function vaultClient(url: string): KeyClient {
  return new KeyClient(
    url,
    { getToken: async () => ({ token: "test", expiresOnTimestamp: Date.now() + 3_600_000 }) },
    {
      allowInsecureConnection: true,
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    },
  );
}

export async function versionsOf(vault: KeyClient, name: string): Promise<KeyProperties[]> {
  const versions: KeyProperties[] = [];
  for await (const properties of vault.listPropertiesOfKeyVersions(name)) versions.push(properties);
  return versions;
}

export async function keyNames(vault: KeyClient): Promise<string[]> {
  const names: string[] = [];
  for await (const properties of vault.listPropertiesOfKeys()) names.push(properties.name);
  return names;
}

export async function deletedKeyNames(vault: KeyClient): Promise<string[]> {
  const names: string[] = [];
  for await (const key of vault.listDeletedKeys()) names.push(key.name);
  return names;
}

/** Versions 1..count of fresh material, each also exposing its material for log-leak checks. */
export async function makeVersions(
  type: KeyType,
  count: number,
): Promise<Array<VersionSource & { material: Buffer }>> {
  const generated = await Promise.all(Array.from({ length: count }, () => generateKeyMaterial(type)));
  return generated.map(({ material, publicKey }, i) => ({
    version: i + 1,
    publicKey: publicKey ?? null,
    material,
    async withMaterial<T>(use: (m: Buffer) => Promise<T>): Promise<T> {
      const copy = Buffer.from(material);
      try {
        return await use(copy);
      } finally {
        zero(copy);
      }
    },
  }));
}

/** The rejection of `promise` (and a failure if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import {
  DescribeKeyCommand,
  type KeyMetadata,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
} from "@aws-sdk/client-kms";
import { generateKeyMaterial } from "../../../src/crypto/generate.js";
import type { KeyType } from "../../../src/crypto/key-types.js";
import { startAwsKmsEmulator } from "../../../src/emulators/aws-kms/index.js";
import type { EmulatorOptions, RunningEmulator } from "../../../src/emulators/common/options.js";
import { createLogger } from "../../../src/logger.js";
import { createAwsKmsProvider } from "../../../src/providers/aws-kms/index.js";
import type {
  KeyToDistribute,
  KmsDestination,
  KmsProvider,
  ProviderContext,
  Purpose,
  VersionSource,
} from "../../../src/providers/kms-provider.js";
import { ProviderError } from "../../../src/providers/provider-error.js";
import { type MemoryJournal, memoryJournal } from "../../helpers/step-journal.js";

/**
 * Shared by the AWS KMS provider tests: an emulator in-process with a provider pointed at it, versions
 * made of freshly generated material, a context with an in-memory journal and a log capture, and an SDK
 * client that checks the remote state independently of the provider.
 */

export const REGION = "eu-west-1";

export interface Harness {
  emulator: RunningEmulator;
  provider: KmsProvider;
  destination: KmsDestination;
  /** Straight to the emulator, for assertions. */
  kms: KMSClient;
  /** Every log line the provider wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Delays the provider's retry loop asked to sleep. */
  sleeps: number[];
  context(options?: {
    journal?: MemoryJournal;
    operationId?: string;
  }): ProviderContext & { journal: MemoryJournal };
  close(): Promise<void>;
}

export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emulator = await startAwsKmsEmulator(options);
  const logs: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ level: "debug" }, stream);
  const sleeps: number[] = [];
  const provider = createAwsKmsProvider({
    logger,
    wrappingKeySpec: "RSA_2048",
    // Real waits (the emulator's quotas refill in real time), kept short.
    retry: {
      attempts: 8,
      baseDelayMs: 20,
      maxDelayMs: 3_000,
      sleep: (ms) => {
        sleeps.push(ms);
        return new Promise((resolve) => setTimeout(resolve, ms));
      },
    },
  });
  const destination: KmsDestination = {
    name: "aws-test",
    provider: "awskms",
    keyCollection: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret" },
    // The provider's own tests exercise the single-key AES layout; the contract suite covers the default.
    options: { endpoint: emulator.url, pendingWindowDays: 7, awsSymmetricLayout: "single-key" },
    revision: 1,
  };
  const kms = new KMSClient({
    endpoint: emulator.url,
    region: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret" },
  });
  return {
    emulator,
    provider,
    destination,
    kms,
    logs,
    sleeps,
    context: ({ journal = memoryJournal(), operationId = `op-${randomUUID()}` } = {}) => ({
      operationId,
      journal,
      logger,
    }),
    close: async () => {
      provider.close();
      kms.destroy();
      await emulator.close();
    },
  };
}

export interface TestKey {
  key: KeyToDistribute;
  versions: VersionSource[];
  /** The plaintext material of each version, to prove it never reaches a log. */
  materials: Buffer[];
}

let names = 0;

/** A key with `count` versions of fresh material; the name is unique within the test run. */
export async function makeKey(type: KeyType, purposes: Purpose[], count: number): Promise<TestKey> {
  const generated = await Promise.all(Array.from({ length: count }, () => generateKeyMaterial(type)));
  names += 1;
  return {
    key: { name: `${type}-${names}-${randomUUID().slice(0, 8)}`, type, purposes, protection: "hsm" },
    versions: generated.map(({ material, publicKey }, index) =>
      versionSource(index + 1, material, publicKey),
    ),
    materials: generated.map(({ material }) => material),
  };
}

export function versionSource(
  version: number,
  material: Buffer,
  publicKey: Buffer | undefined,
): VersionSource {
  return {
    version,
    publicKey: publicKey ?? null,
    withMaterial: async (use) => {
      // The provider gets a copy that is zeroed afterwards, as the custody code hands out unsealed material.
      const copy = Buffer.from(material);
      try {
        return await use(copy);
      } finally {
        copy.fill(0);
      }
    },
  };
}

/** The keys of the region tagged for `keyName`, with their tags and metadata, read straight from the SDK. */
export async function keysTagged(
  kms: KMSClient,
  keyName: string,
): Promise<Array<{ metadata: KeyMetadata; tags: Record<string, string> }>> {
  const found: Array<{ metadata: KeyMetadata; tags: Record<string, string> }> = [];
  const listed = await kms.send(new ListKeysCommand({ Limit: 1000 }));
  for (const entry of listed.Keys ?? []) {
    const tagList = (await kms.send(new ListResourceTagsCommand({ KeyId: entry.KeyId }))).Tags ?? [];
    const tags = Object.fromEntries(tagList.map((tag) => [tag.TagKey ?? "", tag.TagValue ?? ""]));
    if (tags["keyferry:key"] !== keyName) continue;
    const metadata = (await kms.send(new DescribeKeyCommand({ KeyId: entry.KeyId }))).KeyMetadata;
    if (metadata) found.push({ metadata, tags });
  }
  return found;
}

/** Keys of `keyName` that are not pending deletion, by keyferry version. */
export async function liveKeysByVersion(kms: KMSClient, keyName: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { metadata, tags } of await keysTagged(kms, keyName)) {
    if (metadata.KeyState === "PendingDeletion") continue;
    const version = tags["keyferry:version"] ?? "?";
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  return counts;
}

/** The ARN an alias points at, or undefined when there is no such alias. */
export async function aliasTarget(kms: KMSClient, aliasName: string): Promise<string | undefined> {
  const described = await kms.send(new DescribeKeyCommand({ KeyId: aliasName })).catch((error: Error) => {
    if (error.name === "NotFoundException") return undefined;
    throw error;
  });
  return described?.KeyMetadata?.Arn;
}

export async function keyState(kms: KMSClient, keyId: string): Promise<string | undefined> {
  return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
}

/** The ProviderError a promise rejects with (and a failure when it resolves or throws something else). */
export async function providerFailure(promise: Promise<unknown>): Promise<ProviderError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(caught instanceof ProviderError)) {
    throw new Error(`expected a ProviderError, got ${caught === undefined ? "success" : String(caught)}`);
  }
  return caught;
}

/** `items[index]`, which must be there (noUncheckedIndexedAccess without non-null assertions). */
export function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item at ${index}`);
  return item;
}

import { Writable } from "node:stream";
import { asc, eq } from "drizzle-orm";
import type { KeyType } from "../../src/crypto/key-types.js";
import { parseRootKey } from "../../src/crypto/root-key.js";
import { seal } from "../../src/crypto/seal.js";
import type { RootKeyRing } from "../../src/custody/root-keys.js";
import type { Database } from "../../src/db/client.js";
import { keys, kms, type OperationType, operationSteps, operations } from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { createLogger } from "../../src/logger.js";
import type {
  DestinationLimits,
  DestinationRef,
  EngineDependencies,
  RunOutcome,
} from "../../src/operations/engine.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { runOperation } from "../../src/operations/run.js";
import { createAwsKmsProvider } from "../../src/providers/aws-kms/index.js";
import { createAzureKeyVaultProvider } from "../../src/providers/azure-key-vault/index.js";
import type { ProviderRegistry } from "../../src/providers/registry.js";

/**
 * The operations engine wired as a worker wires it, minus Redis: a test database, both emulators registered
 * as kms rows (AWS with sealed credentials), providers with short retries, and in-memory limits.
 */
export const AWS_SECRET = "aws-secret-that-must-never-leak-0001";
export const AWS_KMS = "aws-eu";
export const AZURE_KMS = "azure-vault";

export interface MemoryLimits extends DestinationLimits {
  /** Every rate-limited cloud request: `[kms, operation]`. */
  readonly calls: Array<[string, string]>;
  /** The most slots one destination held at once. */
  readonly peak: Map<string, number>;
}

export function memoryLimits(): MemoryLimits {
  const calls: Array<[string, string]> = [];
  const held = new Map<string, number>();
  const peak = new Map<string, number>();
  return {
    calls,
    peak,
    acquire: async (ref: DestinationRef, operation: string) => {
      calls.push([ref.name, operation]);
    },
    withSlot: async (ref, work) => {
      const now = (held.get(ref.name) ?? 0) + 1;
      held.set(ref.name, now);
      peak.set(ref.name, Math.max(peak.get(ref.name) ?? 0, now));
      try {
        return await work();
      } finally {
        held.set(ref.name, (held.get(ref.name) ?? 1) - 1);
      }
    },
  };
}

export interface Engine {
  deps: EngineDependencies;
  limits: MemoryLimits;
  aws: RunningEmulator;
  azure: RunningEmulator;
  kmsIds: { aws: string; azure: string };
  close(): Promise<void>;
}

export async function startEngine(
  db: Database,
  options: { azureManagedHsm?: boolean } = {},
): Promise<Engine> {
  const root = parseRootKey(Buffer.alloc(32, 0x5a).toString("base64"));
  const ring: RootKeyRing = { current: root, all: [root] };
  const logger = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));
  const [aws, azure] = await Promise.all([
    startAwsKmsEmulator(),
    startAzureKeyVaultEmulator({ managedHsm: options.azureManagedHsm ?? false }),
  ]);
  const retry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 200 };
  const aw = createAwsKmsProvider({ logger, wrappingKeySpec: "RSA_2048", retry });
  const az = createAzureKeyVaultProvider({ logger, retry });
  const providers: ProviderRegistry = {
    get: (provider) => (provider === "awskms" ? aw : az),
    close: () => {
      aw.close();
      az.close();
    },
  };
  const credentials = Buffer.from(
    JSON.stringify({ accessKeyId: "AKIDEXAMPLE00000", secretAccessKey: AWS_SECRET }),
  );
  const [awsRow] = await db
    .insert(kms)
    .values({
      name: AWS_KMS,
      provider: "awskms",
      keyCollection: "eu-west-1",
      sealedCredentials: seal(root, credentials, { purpose: "kms-credentials", name: AWS_KMS }),
      credentialsRootKeyId: root.id,
      options: { endpoint: aws.url, pendingWindowDays: 7 },
    })
    .returning();
  const [azureRow] = await db
    .insert(kms)
    .values({ name: AZURE_KMS, provider: "azurekeyvault", keyCollection: azure.url })
    .returning();
  if (!awsRow || !azureRow) throw new Error("kms rows were not inserted");
  const limits = memoryLimits();
  return {
    deps: { db, ring, providers, limits, logger },
    limits,
    aws,
    azure,
    kmsIds: { aws: awsRow.id, azure: azureRow.id },
    close: async () => {
      providers.close();
      await Promise.all([aws.close(), azure.close()]);
    },
  };
}

/** What the API does for `POST /v1/keys`: the key row (creating) and its create operation, in one transaction. */
export async function acceptCreate(
  db: Database,
  name: string,
  type: KeyType,
  options: { deletionAllowed?: boolean } = {},
): Promise<{ keyId: string; operationId: string }> {
  return db.transaction(async (tx) => {
    const [key] = await tx
      .insert(keys)
      .values({ name, type, deletionAllowed: options.deletionAllowed ?? false })
      .returning();
    if (!key) throw new Error("no key row");
    const op = await acceptOperation(tx, {
      type: "create",
      keyId: key.id,
      input: { name, type },
      actor: "test",
      keyName: name,
    });
    return { keyId: key.id, operationId: op.id };
  });
}

export async function accept(
  db: Database,
  type: OperationType,
  key: { id: string; name: string },
  options: { kms?: { id: string; name: string }; input?: Record<string, unknown> } = {},
): Promise<string> {
  const op = await db.transaction((tx) =>
    acceptOperation(tx, {
      type,
      keyId: key.id,
      kmsId: options.kms?.id ?? null,
      input: options.input ?? {},
      actor: "test",
      keyName: key.name,
      kmsName: options.kms?.name ?? null,
    }),
  );
  return op.id;
}

/** Run an operation as the worker would, retrying at once, until it finishes. */
export async function runToEnd(deps: EngineDependencies, operationId: string): Promise<RunOutcome> {
  for (let attempt = 1; attempt <= 6; attempt++) {
    const outcome = await runOperation(deps, operationId, attempt);
    if (outcome.kind === "finished") return outcome;
    if (outcome.kind === "blocked") throw new Error(`operation ${operationId} is blocked`);
  }
  throw new Error(`operation ${operationId} did not finish`);
}

export async function operationRow(db: Database, id: string) {
  const [row] = await db.select().from(operations).where(eq(operations.id, id));
  if (!row) throw new Error(`no operation ${id}`);
  return row;
}

export async function stepsOf(db: Database, id: string) {
  return db
    .select()
    .from(operationSteps)
    .where(eq(operationSteps.operationId, id))
    .orderBy(asc(operationSteps.ordinal));
}

import type { KeyType } from "../crypto/key-types.js";
import type { PROTECTIONS, Provider, PURPOSES } from "../db/schema/index.js";
import type { Logger } from "../logger.js";

export type Purpose = (typeof PURPOSES)[number];
export type Protection = (typeof PROTECTIONS)[number];

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AzureCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** What a destination may say about itself (`options` of `PUT /v1/kms/{name}`). */
export interface KmsOptions {
  /** AWS endpoint override (emulator, VPC endpoint); Azure vault URLs come from `keyCollection`. */
  endpoint?: string;
  /** AWS: ScheduleKeyDeletion window on remove, 7..30 days (default 30). */
  pendingWindowDays?: number;
  /** Azure: purge the soft-deleted key after remove. */
  purgeOnRemove?: boolean;
  /** Azure: the vault is a Managed HSM (allows oct-HSM, so AES keys). */
  managedHsm?: boolean;
  /** Prefix of remote names: AWS aliases `alias/<prefix>/<key>`, Azure key names `<prefix>-<key>`. */
  namePrefix?: string;
  /**
   * AWS, AES keys. `key-per-version` (default): one KMS key per version behind the alias, like asymmetric
   * keys, so each version can be disabled on its own. `single-key`: one KMS key whose imported materials are
   * the versions (RotateKeyOnDemand), so applications keep one ARN; KMS cannot disable one material of a key,
   * so `minEnabledVersion` can then only disable or enable the key as a whole.
   */
  awsSymmetricLayout?: "key-per-version" | "single-key";
  /**
   * AWS: regions of the same account where every KMS key of a copy gets a multi-Region replica holding the
   * same imported material, kept in step on rotation, min-version and remove.
   */
  replicaRegions?: string[];
  /** Requests per second for this destination (default: the cloud's published quotas). */
  rateLimitPerSecond?: number;
  /** Requests in flight at once against this destination, from all workers together. */
  concurrency?: number;
  /** How often keyferry checks this destination for drift, in seconds (0: only on request). */
  reconcileIntervalSeconds?: number;
}

/** A destination as providers see it: credentials already unsealed, in memory only for the call. */
export interface KmsDestination {
  name: string;
  provider: Provider;
  /** AWS region, or Azure vault name / URL. */
  keyCollection: string;
  credentials: AwsCredentials | AzureCredentials | undefined;
  options: KmsOptions;
  /** Grows on every change of the destination; cached SDK clients are rebuilt when it changes. */
  revision: number;
}

export interface KeyToDistribute {
  name: string;
  type: KeyType;
  purposes: readonly Purpose[];
  protection: Protection;
}

/** One keyferry version offered to a provider. The plaintext exists only inside `withMaterial`. */
export interface VersionSource {
  version: number;
  /** DER SPKI of asymmetric versions. */
  publicKey: Buffer | null;
  withMaterial<T>(use: (material: Buffer) => Promise<T>): Promise<T>;
}

export type RemoteVersionState = "enabled" | "disabled" | "pending";

export interface RemoteVersion {
  version: number;
  /** AWS key ARN; Azure versioned kid. */
  remoteId: string;
  state: RemoteVersionState;
  /** Non-secret provider facts needed later: AWS KeyMaterialId, Azure version, ... */
  detail: Record<string, unknown>;
}

/** What keyferry records of one distribution; providers receive it back for later calls. */
export interface RemoteCopy {
  /** AWS alias name; Azure key name. */
  remoteName: string;
  versions: RemoteVersion[];
  detail: Record<string, unknown>;
}

/**
 * Where a provider writes down what it is about to do and what it did, so that a retry after a crash or a
 * lost answer resumes instead of repeating. The operations engine persists entries (in the step's detail)
 * before `put` resolves. Entries must never hold secrets.
 */
export interface StepJournal {
  get(entry: string): Record<string, unknown> | undefined;
  put(entry: string, value: Record<string, unknown>): Promise<void>;
}

export interface ProviderContext {
  operationId: string;
  journal: StepJournal;
  logger: Logger;
  signal?: AbortSignal;
  /**
   * Called before every request to the cloud with the cloud's operation name (`CreateKey`, `importKey`, ...):
   * the operations engine waits here for the destination's shared rate limit (SPEC section 6).
   */
  beforeCall?: (operation: string) => Promise<void>;
  /**
   * The bulk run (a redistribution) this call belongs to. What a provider may share between the calls of one
   * run (an Azure KEK per vault) is made by `prepareBatch` and released by `finishBatch`.
   */
  batch?: { id: string };
}

/** The remote state of one copy, as the cloud reports it. */
export interface RemoteState {
  exists: boolean;
  versions: Array<{
    version: number;
    remoteId: string;
    state: RemoteVersionState | "deleted" | "pending-deletion";
  }>;
}

export interface VerifyReport {
  ok: boolean;
  versions: Array<{ version: number; ok: boolean; reason?: string }>;
}

/** A remote key carrying keyferry's tags, found by `listManaged` (drift detection). */
export interface ManagedCopy {
  keyName: string;
  version: number;
  remoteId: string;
  state: RemoteVersionState | "pending-deletion";
  operationId: string | undefined;
  /** The destination named by its `keyferry:kms` tag, when it has one. */
  kms?: string | undefined;
  /** The remote name it lives under, where the cloud has one per key (Azure key name). */
  remoteName?: string | undefined;
}

/** What drift repair asks of a copy that still exists (reconcile with `heal`). */
export interface CopyRepair {
  /** Versions whose remote object or material is gone, to import again from custody (ascending). */
  reimport: readonly VersionSource[];
  /** The versions below it end disabled, the others enabled. */
  minEnabledVersion: number;
}

/**
 * One cloud. Every method is safe to call again after it failed or its answer was lost (SPEC section 6):
 * it consults `ctx.journal` and the remote tags before any call that is not idempotent.
 */
export interface KmsProvider {
  readonly provider: Provider;
  /** Refuse, with a 422 InvalidInputError naming the rule, what this cloud cannot hold. */
  checkSupport(destination: KmsDestination, key: KeyToDistribute): void;
  /** Copy every given version, in order; the last one becomes current. */
  distribute(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    versions: readonly VersionSource[],
  ): Promise<RemoteCopy>;
  /** Add one new version to an existing copy and make it current. */
  rotate(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
    version: VersionSource,
  ): Promise<RemoteCopy>;
  /** Disable the versions below `minEnabledVersion`, enable the others. */
  setMinEnabledVersion(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
    minEnabledVersion: number,
    versions: readonly VersionSource[],
  ): Promise<RemoteCopy>;
  /** Make the copy stop working at once, and schedule or perform its deletion. */
  remove(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
  ): Promise<void>;
  describe(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
  ): Promise<RemoteState>;
  /**
   * The remote id the copy's name resolves to for callers that name no version (AWS: the alias's target;
   * Azure: the current version's kid), or null when it resolves to nothing usable (alias gone, current
   * version disabled). Drift detection expects the latest version there.
   */
  nameTarget(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
  ): Promise<string | null>;
  /** Prove the copy holds our versions: public keys equal (asymmetric), an encrypt/decrypt round trip (AES). */
  verify(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
    versions: readonly VersionSource[],
  ): Promise<VerifyReport>;
  /**
   * Make what the calls of bulk run `batchId` share in this destination (Azure: one KEK for the whole run);
   * safe to repeat. Providers with nothing to share do not implement it.
   */
  prepareBatch?(ctx: ProviderContext, destination: KmsDestination, batchId: string): Promise<void>;
  /** Release what `prepareBatch` made (the run is over, or canceled); safe to repeat. */
  finishBatch?(ctx: ProviderContext, destination: KmsDestination, batchId: string): Promise<void>;
  /** Every remote key in the destination that carries keyferry's tags. */
  listManaged(ctx: ProviderContext, destination: KmsDestination): Promise<ManagedCopy[]>;
  /**
   * Drift repair of a copy that still exists: bring back what was scheduled for deletion (AWS
   * CancelKeyDeletion, Azure recover), import `reimport` again where the cloud can hold one version alone,
   * set enabled/disabled per `minEnabledVersion`, and point the copy's name at the latest version. A copy
   * that is gone altogether is distributed again instead.
   */
  repair(
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    copy: RemoteCopy,
    repair: CopyRepair,
  ): Promise<RemoteCopy>;
  /** Disable one remote object keyferry does not record (an extra version, an untracked key); never deletes. */
  disableRemote(
    ctx: ProviderContext,
    destination: KmsDestination,
    remote: Pick<ManagedCopy, "keyName" | "version" | "remoteId">,
  ): Promise<void>;
  /** Release the cached SDK clients (graceful shutdown). */
  close(): void;
}

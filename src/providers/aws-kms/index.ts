import type { WrappingKeySpec } from "@aws-sdk/client-kms";
import type { Logger } from "../../logger.js";
import type { KeyToDistribute, KmsDestination, KmsProvider, ProviderContext } from "../kms-provider.js";
import { DEFAULT_RETRY, KmsClientCache, kmsSession, type RetryPolicy } from "./client.js";
import { aliasTargetOf, describeCopy } from "./describe.js";
import { distributeVersions, rotateCopy } from "./distribute.js";
import { listManagedCopies } from "./list-managed.js";
import { setMinVersion } from "./min-version.js";
import { removeCopy } from "./remove.js";
import { disableKey, repairCopy } from "./repair.js";
import type { AwsRun } from "./run.js";
import { aliasNameOf, checkSupport, pendingWindowOf } from "./support.js";
import { verifyCopy } from "./verify.js";

/**
 * The AWS KMS provider (SPEC section 4): what each KmsProvider method does, file by file —
 * support.ts (what AWS can hold, key specs and usages), distribute.ts (distribute and rotate: key per
 * version for RSA and EC, one key with rotated materials for AES), remote-keys.ts (journaled CreateKey and
 * the tag search of the recovery path), import-material.ts (import parameters, wrapping, ImportKeyMaterial),
 * rotation.ts (RotateKeyOnDemand), alias.ts, min-version.ts, remove.ts, describe.ts, verify.ts,
 * list-managed.ts, repair.ts (drift repair); client.ts (clients per destination, retries, logging) and
 * errors.ts (the error mapping).
 */

export interface AwsKmsProviderDependencies {
  logger?: Logger;
  /** Milliseconds since the epoch, for journal entries. */
  now?: () => number;
  /** In-place retries of idempotent calls; tests shorten the waits or inject `sleep`. */
  retry?: Partial<RetryPolicy>;
  /**
   * The RSA wrapping key KMS generates for each import. RSA_4096 (the strongest) by default; KMS makes it on
   * every GetParametersForImport, so tests against the emulator may choose RSA_2048 for speed.
   */
  wrappingKeySpec?: WrappingKeySpec;
}

export function createAwsKmsProvider(deps: AwsKmsProviderDependencies = {}): KmsProvider {
  const clients = new KmsClientCache(deps.logger);
  const now = deps.now ?? Date.now;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  const wrappingKeySpec = deps.wrappingKeySpec ?? "RSA_4096";

  const runFor = (
    ctx: ProviderContext,
    destination: KmsDestination,
    key: KeyToDistribute,
    region = destination.keyCollection,
  ): AwsRun => ({
    session: kmsSession(clients.clientFor(destination, region), destination, ctx, retry),
    key,
    now,
    wrappingKeySpec,
    retry,
    inRegion: (other) => runFor(ctx, destination, key, other),
  });

  return {
    provider: "awskms",
    checkSupport,
    async distribute(ctx, destination, key, versions) {
      checkSupport(destination, key);
      return distributeVersions(runFor(ctx, destination, key), aliasNameOf(destination, key), versions);
    },
    async rotate(ctx, destination, key, copy, version) {
      checkSupport(destination, key);
      return rotateCopy(runFor(ctx, destination, key), copy, version);
    },
    async setMinEnabledVersion(ctx, destination, key, copy, minEnabledVersion) {
      return setMinVersion(runFor(ctx, destination, key), copy, minEnabledVersion);
    },
    async remove(ctx, destination, key, copy) {
      await removeCopy(runFor(ctx, destination, key), copy, pendingWindowOf(destination));
    },
    async describe(ctx, destination, key, copy) {
      return describeCopy(runFor(ctx, destination, key), copy);
    },
    async nameTarget(ctx, destination, key, copy) {
      return aliasTargetOf(runFor(ctx, destination, key), copy);
    },
    async verify(ctx, destination, key, copy, versions) {
      return verifyCopy(runFor(ctx, destination, key), copy, versions);
    },
    async listManaged(ctx, destination) {
      return listManagedCopies({
        session: kmsSession(clients.clientFor(destination), destination, ctx, retry),
      });
    },
    async repair(ctx, destination, key, copy, repair) {
      checkSupport(destination, key);
      return repairCopy(runFor(ctx, destination, key), copy, repair);
    },
    async disableRemote(ctx, destination, remote) {
      await disableKey(
        { session: kmsSession(clients.clientFor(destination), destination, ctx, retry) },
        remote.remoteId,
      );
    },
    close: () => clients.close(),
  };
}

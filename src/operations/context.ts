import { and, eq, ne } from "drizzle-orm";
import type { Queryable } from "../db/client.js";
import { distributions, type keys, kms, type operations } from "../db/schema/index.js";
import { KeyferryError } from "../errors/keyferry-error.js";
import { appendToLedger } from "../ledger/append.js";
import type { Logger } from "../logger.js";
import type { KeyToDistribute, KmsProvider, ProviderContext } from "../providers/kms-provider.js";
import { type LoadedDestination, loadDestination } from "./destinations.js";
import type { EngineDependencies, Lane } from "./engine.js";
import type { DistributionRow } from "./remote-copies.js";
import type { StepResult, StepRunner, StepScope } from "./steps.js";

export type OperationRow = typeof operations.$inferSelect;
export type KeyRow = typeof keys.$inferSelect;

/** Everything a processor works with; built once per run by run.ts. */
export interface OperationContext {
  deps: EngineDependencies;
  operation: OperationRow;
  /** The operation's key, when it has one (read at the start of the run). */
  key: KeyRow | null;
  /** The operation's kms name, when it has one. */
  kmsName: string | null;
  /** The bulk run (redistribution) this operation is a child of: providers share what they can within it. */
  batchId?: string | undefined;
  attempt: number;
  /** Aborted on shutdown, or when the run loses its lease on the operation. */
  signal: AbortSignal | undefined;
  /** The run's lease on the operation (src/operations/run-lease.ts); final states are written under it. */
  leaseToken?: string;
  logger: Logger;
  step: StepRunner;
}

export function requireKey(ctx: OperationContext): KeyRow {
  if (!ctx.key) {
    throw new KeyferryError("key_not_found", `operation ${ctx.operation.id} names no existing key`, {
      status: 404,
    });
  }
  return ctx.key;
}

/** A ledger entry of this operation, in the caller's transaction. */
export function record(
  ctx: OperationContext,
  tx: Queryable,
  event: string,
  data: Record<string, unknown>,
  kmsName: string | null = ctx.kmsName,
): Promise<void> {
  return appendToLedger(tx, {
    event,
    operationId: ctx.operation.id,
    keyName: ctx.key?.name ?? null,
    kmsName,
    actor: "worker",
    data,
  });
}

export function keyToDistribute(key: KeyRow, distribution: DistributionRow): KeyToDistribute {
  return {
    name: key.name,
    type: key.type,
    purposes: distribution.purposes,
    protection: distribution.protection,
  };
}

/** One copy of the key in one destination, as fan-out steps work on it. */
export interface Target {
  distribution: DistributionRow;
  kmsId: string;
  kmsName: string;
}

/** The key's copies that are in service (a failed or removed copy gets no rotations). */
export async function activeTargets(db: Queryable, keyId: string): Promise<Target[]> {
  const rows = await db
    .select({ distribution: distributions, kmsName: kms.name })
    .from(distributions)
    .innerJoin(kms, eq(kms.id, distributions.kmsId))
    .where(and(eq(distributions.keyId, keyId), eq(distributions.state, "active")))
    .orderBy(kms.name);
  return rows.map((r) => ({ distribution: r.distribution, kmsId: r.distribution.kmsId, kmsName: r.kmsName }));
}

export async function liveDistribution(
  db: Queryable,
  keyId: string,
  kmsId: string,
): Promise<DistributionRow | undefined> {
  const [row] = await db
    .select()
    .from(distributions)
    .where(
      and(eq(distributions.keyId, keyId), eq(distributions.kmsId, kmsId), ne(distributions.state, "removed")),
    );
  return row;
}

export interface DestinationCall {
  provider: KmsProvider;
  loaded: LoadedDestination;
  providerContext: ProviderContext;
  scope: StepScope;
}

/**
 * Run step `<name>@<kms>`: its work holds one of the destination's concurrency slots, and every cloud request
 * inside waits for the destination's shared rate limit (`beforeCall`).
 */
export function destinationStep<T extends StepResult>(
  ctx: OperationContext,
  name: string,
  kmsId: string,
  kmsName: string,
  work: (call: DestinationCall) => Promise<T>,
): Promise<T> {
  const { deps, signal } = ctx;
  const lane: Lane = ctx.operation.parentId ? "bulk" : "interactive";
  return ctx.step(
    `${name}@${kmsName}`,
    async (scope) => {
      const loaded = await loadDestination(deps.db, deps.ring, kmsId);
      const provider = deps.providers.get(loaded.destination.provider);
      const providerContext: ProviderContext = {
        operationId: ctx.operation.id,
        journal: scope.journal,
        logger: scope.logger,
        ...(signal ? { signal } : {}),
        ...(ctx.batchId ? { batch: { id: ctx.batchId } } : {}),
        beforeCall: (operation) => deps.limits.acquire(loaded.ref, operation, signal, lane),
      };
      return deps.limits.withSlot(
        loaded.ref,
        () => work({ provider, loaded, providerContext, scope }),
        signal,
        lane,
      );
    },
    { kms: kmsName },
  );
}

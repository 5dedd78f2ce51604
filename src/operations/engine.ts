import type { RootKeyRing } from "../custody/root-keys.js";
import type { Database } from "../db/client.js";
import type { Provider } from "../db/schema/index.js";
import type { Logger } from "../logger.js";
import type { KmsOptions } from "../providers/kms-provider.js";
import type { ProviderRegistry } from "../providers/registry.js";

/**
 * The seam between the queue (src/queue/, BullMQ) and the operations engine (src/operations/): the queue
 * hands an operation id to `runOperation` (src/operations/run.ts) and does what the outcome says.
 */

/**
 * Who is asking: `interactive` work (an operation someone asked for) goes first; `bulk` work (the children
 * of a redistribution) takes a destination's tokens only while no interactive request waits for them, and
 * leaves one concurrency slot free, so a 10,000-key run never starves one urgent rotation.
 */
export type Lane = "interactive" | "bulk";

/** A destination's shared limits, the same for every worker on every host (implemented in src/queue/). */
export interface DestinationLimits {
  /** Wait for the destination's shared rate limit before one cloud request (`CreateKey`, `importKey`, ...). */
  acquire(kms: DestinationRef, operation: string, signal?: AbortSignal, lane?: Lane): Promise<void>;
  /** Run `work` holding one of the destination's concurrency slots. */
  withSlot<T>(kms: DestinationRef, work: () => Promise<T>, signal?: AbortSignal, lane?: Lane): Promise<T>;
}

export interface DestinationRef {
  name: string;
  provider: Provider;
  options: KmsOptions;
  /**
   * What the cloud's published quotas apply to: an AWS account and region, an Azure vault. Destinations
   * with the same scope share the published rate buckets; a destination's own `rateLimitPerSecond` and its
   * concurrency slots stay its own. An opaque hash, so that no account detail reaches Redis key names.
   */
  quotaScope?: string;
}

export interface EngineDependencies {
  db: Database;
  ring: RootKeyRing;
  providers: ProviderRegistry;
  limits: DestinationLimits;
  logger: Logger;
  /** Tells the outbox relay that rows are waiting (a bulk operation accepted children); it polls anyway. */
  nudge?: () => void;
  /** A bulk operation's children in flight per destination, unless the destination's `concurrency` says. */
  bulkWindow?: number;
  /**
   * Run these operations now: the one ahead of them on their key ended (src/queue/wake.ts promotes their
   * delayed jobs). Without it they start at their blocked retry.
   */
  wake?: (operationIds: readonly string[]) => Promise<void>;
  /** How long a run's lease on its operation lasts unless renewed (a crashed worker's expires after it). */
  runLeaseMs?: number;
}

export type RunOutcome =
  /** The operation reached a final state (failed included: permanent errors end here). */
  | { kind: "finished"; state: "succeeded" | "failed" | "canceled" }
  /** An earlier operation on the same key has not finished: try again later (operations on a key are serialized). */
  | { kind: "blocked"; retryInMs: number }
  /** A transient or throttled failure: run again later, resuming from the last finished step. */
  | { kind: "retry"; delayMs: number | undefined; reason: string };

/** What src/operations/run.ts exports. `attempt` counts from 1 (BullMQ's attemptsMade + 1). */
export type RunOperation = (
  deps: EngineDependencies,
  operationId: string,
  attempt: number,
  signal?: AbortSignal,
) => Promise<RunOutcome>;

import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { operationSteps, operations } from "../db/schema/index.js";
import { appendToLedger } from "../ledger/append.js";
import type { Logger } from "../logger.js";
import type { StepJournal } from "../providers/kms-provider.js";
import { ProviderError } from "../providers/provider-error.js";
import {
  codeOf,
  isRetryable,
  logUnexpected,
  messageOf,
  OperationCanceledError,
  RunLeaseLostError,
} from "./errors.js";

/** What a step's work receives: its journal (kept in the step's detail) and its attempt number. */
export interface StepScope {
  name: string;
  attempt: number;
  journal: StepJournal;
  logger: Logger;
}

/** What a step records when it succeeds: remote ids, versions; never key material or credentials. */
export type StepResult = Record<string, unknown>;

/**
 * Run one named step of the operation, or return what it recorded when an earlier attempt finished it
 * (resumption). `kms` files the step's ledger entries under a destination (fan-out steps).
 */
export type StepRunner = <T extends StepResult>(
  name: string,
  work: (scope: StepScope) => Promise<T>,
  options?: { kms?: string | null },
) => Promise<T>;

export interface StepOwner {
  id: string;
  keyName: string | null;
  kmsName: string | null;
  /** The run's lease (src/operations/run-lease.ts): a step starts only while the run still holds it. */
  leaseToken?: string;
}

const ACTOR = "worker";

export function createStepRunner(db: Database, operation: StepOwner, logger: Logger): StepRunner {
  return async <T extends StepResult>(
    name: string,
    work: (scope: StepScope) => Promise<T>,
    options: { kms?: string | null } = {},
  ): Promise<T> => {
    const kmsName = options.kms === undefined ? operation.kmsName : options.kms;
    const filed = { operationId: operation.id, keyName: operation.keyName, kmsName, actor: ACTOR };
    const started = await db.transaction(async (tx) => {
      const [owner] = await tx
        .select({ state: operations.state, runToken: operations.runToken })
        .from(operations)
        .where(eq(operations.id, operation.id));
      if (owner?.state === "canceled") throw new OperationCanceledError(operation.id);
      if (operation.leaseToken && owner?.runToken !== operation.leaseToken) {
        throw new RunLeaseLostError(operation.id);
      }
      const [existing] = await tx
        .select()
        .from(operationSteps)
        .where(and(eq(operationSteps.operationId, operation.id), eq(operationSteps.name, name)));
      if (existing?.state === "succeeded") {
        return { done: true as const, result: (existing.detail.result ?? {}) as T };
      }
      const now = new Date();
      const [row] = await tx
        .insert(operationSteps)
        .values({
          operationId: operation.id,
          name,
          ordinal: sql`(select coalesce(max(${operationSteps.ordinal}), 0) + 1 from ${operationSteps} where ${operationSteps.operationId} = ${operation.id})`,
          state: "running",
          attempts: 1,
          startedAt: now,
        })
        .onConflictDoUpdate({
          target: [operationSteps.operationId, operationSteps.name],
          set: {
            state: "running",
            attempts: sql`${operationSteps.attempts} + 1`,
            detail: sql`${operationSteps.detail} - 'error'`,
            startedAt: now,
            finishedAt: null,
          },
        })
        .returning();
      if (!row) throw new Error(`step ${name} could not be recorded`);
      await appendToLedger(tx, {
        ...filed,
        event: "step.started",
        data: { step: name, attempt: row.attempts },
      });
      return { done: false as const, row };
    });
    if (started.done) return started.result;

    const { row } = started;
    const scope: StepScope = {
      name,
      attempt: row.attempts,
      journal: stepJournal(db, row.id, row.detail.journal),
      logger: logger.child({ step: name, attempt: row.attempts, ...(kmsName ? { kms: kmsName } : {}) }),
    };
    let result: T;
    try {
      result = await work(scope);
    } catch (error) {
      const recorded = {
        code: codeOf(error),
        message: messageOf(error),
        kind: error instanceof ProviderError ? error.kind : isRetryable(error) ? "transient" : "permanent",
      };
      // Throttling is the cloud pacing us, not a failure (SPEC section 6): the step waits to run again.
      const throttled = recorded.kind === "throttled";
      logUnexpected(scope.logger, error, "step failed: unexpected error");
      if (throttled) scope.logger.info({ error: recorded }, "step throttled");
      else scope.logger.warn({ error: recorded }, "step failed");
      await db.transaction(async (tx) => {
        await tx
          .update(operationSteps)
          .set({
            state: throttled ? "pending" : "failed",
            finishedAt: new Date(),
            detail: sql`jsonb_set(${operationSteps.detail}, '{error}', ${JSON.stringify(recorded)}::jsonb)`,
          })
          .where(eq(operationSteps.id, row.id));
        await appendToLedger(tx, {
          ...filed,
          event: throttled ? "step.throttled" : "step.failed",
          data: { step: name, attempt: row.attempts, error: recorded },
        });
      });
      throw error;
    }
    await db.transaction(async (tx) => {
      await tx
        .update(operationSteps)
        .set({
          state: "succeeded",
          finishedAt: new Date(),
          detail: sql`jsonb_set(${operationSteps.detail}, '{result}', ${JSON.stringify(result)}::jsonb)`,
        })
        .where(eq(operationSteps.id, row.id));
      await appendToLedger(tx, {
        ...filed,
        event: "step.succeeded",
        data: { step: name, attempt: row.attempts, result },
      });
    });
    return result;
  };
}

/** A StepJournal kept in the step's `detail.journal`: `put` resolves once the entry is stored. */
function stepJournal(db: Database, stepId: string, stored: unknown): StepJournal {
  const entries: Record<string, Record<string, unknown>> = stored && typeof stored === "object"
    ? { ...(stored as Record<string, Record<string, unknown>>) }
    : {};
  // Writes are chained so that the row always ends with the latest entries, in the order they were put.
  let writing: Promise<void> = Promise.resolve();
  return {
    get: (entry) => {
      const value = entries[entry];
      return value === undefined ? undefined : structuredClone(value);
    },
    put: (entry, value) => {
      entries[entry] = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
      const snapshot = JSON.stringify(entries);
      writing = writing.then(async () => {
        await db
          .update(operationSteps)
          .set({ detail: sql`jsonb_set(${operationSteps.detail}, '{journal}', ${snapshot}::jsonb)` })
          .where(eq(operationSteps.id, stepId));
      });
      return writing;
    },
  };
}

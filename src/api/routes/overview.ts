import { z } from "zod";
import type { QueueStats } from "../../queue/queue-stats.js";
import type { ApiApp, ApiContext } from "../context.js";
import { docs } from "../docs.js";
import { commonErrors, operationSchema } from "../schemas.js";
import { findingSchema, readDestinationActivity, readDrift } from "../ui/destination-reads.js";
import { createLedgerVerificationCache } from "../ui/ledger-verification-cache.js";
import {
  OVERVIEW_LIMITS,
  readCounts,
  readFailures,
  readLatestLedger,
  readMatrix,
  readOperationsInFlight,
} from "../ui/overview-reads.js";
import { entrySchema } from "./ledger.js";

/**
 * `GET /v1/overview`: everything the dashboard (`/ui`) shows, in one bounded answer, so that one poll a
 * second is one request. Every list is capped (see OVERVIEW_LIMITS); the ledger's chain verification is
 * cached (at most one run per VERIFY_MAX_AGE_MS per API process), and concurrent polls within
 * SHARE_MS share one computation.
 */

const VERIFY_MAX_AGE_MS = 60_000;
const SHARE_MS = 1_000;

const verificationSchema = z
  .object({
    ok: z.boolean().nullable().describe("null: the verification could not run (see `error`)"),
    entries: z.number().int().optional(),
    head: z.string().nullable().optional(),
    firstBadSeq: z.number().int().optional(),
    reason: z.string().optional(),
    error: z.string().optional(),
    checkedAt: z.string(),
    durationMs: z.number(),
  })
  .nullable()
  .describe("the last chain verification of this API process (null: the first one is running)");

const overviewSchema = z.object({
  generatedAt: z.string(),
  limits: z.record(z.string(), z.number()).describe("the cap of each list in this answer"),
  counts: z.object({
    keys: z.number().int(),
    destinations: z.number().int(),
    copies: z.number().int(),
    inFlight: z.number().int(),
    failedLastDay: z.number().int(),
  }),
  matrix: z.object({
    keys: z.array(
      z.object({ name: z.string(), type: z.string(), state: z.string(), latestVersion: z.number().int() }),
    ),
    destinations: z.array(z.object({ name: z.string(), provider: z.string() })),
    cells: z.array(
      z.object({ key: z.string(), kms: z.string(), state: z.string(), version: z.number().int().nullable() }),
    ),
    keysTotal: z.number().int(),
  }),
  operations: z
    .array(operationSchema)
    .describe("top-level operations in flight, then those finished in the last minute"),
  failures: z.array(operationSchema).describe("the newest failed top-level operations of the last day"),
  destinations: z.array(
    z.object({
      name: z.string(),
      provider: z.string(),
      queued: z.number().int(),
      running: z.number().int(),
      stepsLastMinute: z.number().int(),
      throttledLast5m: z.number().int(),
      lastThrottledAt: z.string().nullable(),
      rateLimitPerSecond: z.number().nullable(),
      concurrency: z.number().nullable(),
      slotsInUse: z.number().nullable(),
      buckets: z.record(z.string(), z.number()).nullable(),
    }),
  ),
  queues: z
    .record(z.string(), z.record(z.string(), z.number()))
    .nullable()
    .describe("job counts per queue and state (null: Redis did not answer)"),
  ledger: z.object({
    entries: z.array(entrySchema.omit({ data: true, prevHash: true, hash: true })),
    verification: verificationSchema,
  }),
  drift: z.array(
    z.object({
      kms: z.string(),
      operationId: z.string(),
      checkedAt: z.string(),
      counts: z.record(z.string(), z.number()),
      findings: z.array(findingSchema),
      findingsTotal: z.number().int(),
    }),
  ),
});

type Overview = z.infer<typeof overviewSchema>;

export function registerOverviewRoutes(app: ApiApp, ctx: ApiContext): void {
  const verification = createLedgerVerificationCache(ctx.db, { maxAgeMs: VERIFY_MAX_AGE_MS });
  app.addHook("onClose", () => verification.settled());
  let shared: { at: number; answer: Promise<Overview> } | null = null;

  const compute = async (): Promise<Overview> => {
    const stats: QueueStats | null = await ctx.queueStats().catch(() => null);
    // One query after the other: a poll holds one pooled connection, not seven.
    const counts = await readCounts(ctx.db);
    const matrix = await readMatrix(ctx.db, counts.keys);
    const operations = await readOperationsInFlight(ctx.db);
    const failures = await readFailures(ctx.db);
    const destinations = await readDestinationActivity(ctx.db, stats?.destinations ?? null);
    const entries = await readLatestLedger(ctx.db);
    const drift = await readDrift(ctx.db);
    return {
      generatedAt: new Date().toISOString(),
      limits: { ...OVERVIEW_LIMITS },
      counts,
      matrix,
      operations,
      failures,
      destinations,
      queues: stats?.queues ?? null,
      ledger: { entries, verification: verification.latest() },
      drift,
    };
  };

  app.get(
    "/v1/overview",
    {
      config: { access: "read", what: "read the overview" },
      schema: {
        // Tagged with the queue statistics it extends (the tag list lives in docs.ts).
        ...docs(
          "queues",
          "Everything the dashboard shows, in one bounded answer",
          "The keys × destinations matrix, operations in flight (bulk ones with `progress`), recent " +
            "failures, per-destination backlog, pace and throttling, queue counts, the newest ledger " +
            "entries with the last (cached) chain verification, and the drift found by the latest " +
            "reconcile of each destination. Every list is capped (`limits`).",
        ),
        querystring: z.strictObject({}),
        response: {
          200: overviewSchema.describe("the dashboard's data: every list capped, see `limits`"),
          ...commonErrors,
        },
      },
    },
    async () => {
      const now = Date.now();
      if (shared === null || now - shared.at >= SHARE_MS) {
        const answer = compute();
        shared = { at: now, answer };
        // A failed computation is not shared with later polls.
        answer.catch(() => {
          if (shared?.answer === answer) shared = null;
        });
      }
      return shared.answer;
    },
  );
}

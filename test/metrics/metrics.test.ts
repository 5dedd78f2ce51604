import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, createApiClient } from "../../src/cli/client/api-client.js";
import { type OperationBody, waitForOperation } from "../../src/cli/client/wait.js";
import { kms, operationSteps, operations } from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { DRIFT_KINDS } from "../../src/metrics/drift.js";
import { type DevStack, startDevStack } from "../../src/processes/dev-stack.js";
import { startWorkerProcess } from "../../src/processes/worker.js";
import { QUEUE_STATES } from "../../src/queue/queue-stats.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";
import { type Exposition, parseExposition } from "./exposition.js";

/**
 * `/metrics` end to end: a dev stack of the test's own (API and worker sharing one registry, both emulators),
 * a small scenario through the API (a key created, distributed to AWS and Azure, rotated, with AWS throttling
 * injected), then the scrape, read with a small exposition parser, family by family.
 */
const database = useTestDatabase();
const redis = useTestRedis();
const silent = createLogger({ level: "silent" }, new Writable({ write: (_c, _e, done) => done() }));

const KEY = "metrics-probe-key";
let stack: DevStack;
let dir: string;
let admin: ApiClient;
let auditorToken: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kf-metrics-"));
  stack = await startDevStack({
    dir,
    env: {
      DATABASE_URL: database().url,
      REDIS_URL: TEST_REDIS_URL,
      KEYFERRY_REDIS_PREFIX: redis().prefix,
      // No scheduled drift checks: the operations counted here are the scenario's own.
      KEYFERRY_RECONCILE_INTERVAL_SECONDS: "0",
    },
    ports: { api: 0, aws: 0, azure: 0 },
    logger: () => silent,
  });
  admin = await createApiClient({ url: stack.apiUrl, token: stack.adminToken });
  const issued = await admin.request<{ secret: string }>("POST", "/v1/tokens", {
    role: "auditor",
    name: "prometheus",
  });
  auditorToken = issued.secret;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function scrape(url = `${stack.apiUrl}/metrics`, token: string | null = auditorToken) {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
}

const metrics = async () => parseExposition((await scrape()).text);

async function until(what: string, check: (m: Exposition) => boolean): Promise<Exposition> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = await metrics();
    if (check(m)) return m;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function run(accepted: Promise<OperationBody>): Promise<OperationBody> {
  const final = await waitForOperation(admin, (await accepted).id, { intervalMs: 100, timeoutMs: 120_000 });
  expect(final, JSON.stringify(final.error)).toMatchObject({ state: "succeeded" });
  return final;
}

describe("GET /metrics", () => {
  it("wants a token unless KEYFERRY_METRICS_PUBLIC, and answers the Prometheus text format", async () => {
    expect((await scrape(undefined, null)).status).toBe(401);
    const answer = await scrape();
    expect(answer.status).toBe(200);
    expect(answer.type).toContain("text/plain");
    expect(answer.text).toContain("# TYPE keyferry_queue_jobs gauge");
  });

  it("reports every family after a scenario with throttling", { timeout: 240_000 }, async () => {
    const { aws, azure } = stack.destinations;
    await run(admin.request("POST", "/v1/keys", { name: KEY, type: "rsa-2048" }));
    // Six throttled CreateKeys: the AWS provider's in-place retries run out, the step goes back to the queue.
    stack.aws.faults.throttleNext(6, { operation: "CreateKey", retryAfterMs: 1 });
    const copy = { purpose: ["sign", "verify"], protection: "hsm" };
    await run(admin.request("PUT", `/v1/kms/${aws}/keys/${KEY}`, copy));
    await run(admin.request("PUT", `/v1/kms/${azure}/keys/${KEY}`, copy));
    await run(admin.request("POST", `/v1/keys/${KEY}/rotate`, {}));
    expect(stack.aws.faults.injected.throttle).toBe(6);

    // Durations are observed just after an operation ends: wait until the histogram has all four.
    const m = await until(
      "four operation durations",
      (x) => x.sum("keyferry_operation_duration_seconds_count") === 4,
    );

    const families = [
      ["keyferry_queue_jobs", "gauge"],
      ["keyferry_operations", "gauge"],
      ["keyferry_operation_duration_seconds", "histogram"],
      ["keyferry_operation_runs_total", "counter"],
      ["keyferry_provider_call_duration_seconds", "histogram"],
      ["keyferry_provider_call_errors_total", "counter"],
      ["keyferry_provider_requests_total", "counter"],
      ["keyferry_throttle_events_total", "counter"],
      ["keyferry_limit_wait_seconds", "histogram"],
      ["keyferry_ledger_append_wait_seconds", "histogram"],
      ["keyferry_ledger_chain_pass_duration_seconds", "histogram"],
      ["keyferry_ledger_chained_entries_total", "counter"],
      ["keyferry_ledger_pending_entries", "gauge"],
      ["keyferry_ledger_pending_oldest_age_seconds", "gauge"],
      ["keyferry_drift_findings", "gauge"],
      ["keyferry_drift_last_reconcile_timestamp_seconds", "gauge"],
      ["keyferry_outbox_rows", "gauge"],
      ["keyferry_outbox_oldest_age_seconds", "gauge"],
      ["keyferry_metrics_collector_up", "gauge"],
      ["process_cpu_user_seconds_total", "counter"],
      ["nodejs_eventloop_lag_seconds", "gauge"],
    ] as const;
    for (const [name, type] of families) {
      expect(m.type.get(name), name).toBe(type);
      expect(m.help.get(name)?.length, name).toBeGreaterThan(0);
    }
    for (const s of m.select("keyferry_metrics_collector_up")) expect(s.value, s.labels.collector).toBe(1);

    // Queue depth: one series per state of the operations queue.
    for (const state of QUEUE_STATES) {
      expect(m.select("keyferry_queue_jobs", { queue: "operations", state }), state).toHaveLength(1);
    }
    expect(m.sum("keyferry_queue_jobs", { state: "completed" })).toBeGreaterThanOrEqual(4);

    // Operations: the PostgreSQL counts and the duration histogram agree, type by type.
    for (const type of ["create", "distribute", "rotate"]) {
      const counted = m.sum("keyferry_operations", { type, state: "succeeded" });
      expect(counted, type).toBe(type === "distribute" ? 2 : 1);
      expect(m.sum("keyferry_operation_duration_seconds_count", { type, state: "succeeded" }), type).toBe(
        counted,
      );
    }
    expect(m.sum("keyferry_operation_duration_seconds_sum")).toBeGreaterThan(0);
    expect(m.sum("keyferry_operation_runs_total", { outcome: "succeeded" })).toBeGreaterThanOrEqual(4);
    expect(m.sum("keyferry_operation_runs_total", { outcome: "retry" })).toBeGreaterThanOrEqual(1);

    // Provider calls: both clouds, every request counted by name, the throttling seen.
    for (const provider of ["awskms", "azurekeyvault"]) {
      expect(
        m.sum("keyferry_provider_call_duration_seconds_count", { provider, outcome: "ok" }),
        provider,
      ).toBeGreaterThan(0);
      expect(m.sum("keyferry_provider_requests_total", { provider }), provider).toBeGreaterThan(0);
    }
    expect(
      m.sum("keyferry_provider_requests_total", { provider: "awskms", request: "CreateKey" }),
    ).toBeGreaterThanOrEqual(7);
    expect(
      m.sum("keyferry_provider_requests_total", { provider: "azurekeyvault", request: "importKey" }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      m.sum("keyferry_provider_call_errors_total", {
        provider: "awskms",
        method: "distribute",
        kind: "throttled",
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      m.sum("keyferry_throttle_events_total", { provider: "awskms", kms: aws, source: "cloud" }),
    ).toBeGreaterThanOrEqual(1);

    // Limiter waits: every request waited for a token, every destination step for a slot.
    expect(m.sum("keyferry_limit_wait_seconds_count", { limit: "rate", outcome: "acquired" })).toBe(
      m.sum("keyferry_provider_requests_total"),
    );
    expect(m.sum("keyferry_limit_wait_seconds_count", { limit: "concurrency" })).toBeGreaterThanOrEqual(3);

    // Ledger: entries were chained, their waits observed; the backlog is a number.
    expect(m.sum("keyferry_ledger_chained_entries_total")).toBeGreaterThan(0);
    expect(m.sum("keyferry_ledger_chain_pass_duration_seconds_count")).toBeGreaterThan(0);
    expect(m.sum("keyferry_ledger_pending_entries")).toBeGreaterThanOrEqual(0);
    expect(m.sum("keyferry_ledger_pending_oldest_age_seconds")).toBeGreaterThanOrEqual(0);
    const waits = await until(
      "the ledger waits",
      (x) => x.sum("keyferry_ledger_append_wait_seconds_count") > 0,
    );
    expect(waits.sum("keyferry_ledger_append_wait_seconds_sum")).toBeGreaterThanOrEqual(0);

    // The outbox drained; its lag is a number.
    expect(m.sum("keyferry_outbox_rows")).toBeGreaterThanOrEqual(0);
    expect(m.sum("keyferry_outbox_oldest_age_seconds")).toBeGreaterThanOrEqual(0);

    // No drift yet: the family is there, without series.
    expect(m.select("keyferry_drift_findings")).toEqual([]);

    // Bounded labels: no label value is the key's name or an operation id.
    const ids = new Set(
      (await database().db.select({ id: operations.id }).from(operations)).map((r) => r.id),
    );
    for (const sample of m.samples) {
      for (const value of Object.values(sample.labels)) {
        expect(value, sample.name).not.toContain(KEY);
        expect(ids.has(value), sample.name).toBe(false);
      }
    }
  });

  it("reads drift findings from the latest succeeded reconcile of each destination", async () => {
    const { db } = database();
    const [aws] = await db.select({ id: kms.id }).from(kms).where(eq(kms.name, stack.destinations.aws));
    if (!aws) throw new Error("the dev stack registered no AWS destination");
    const reconcile = async (
      state: "succeeded" | "failed",
      finishedAt: Date,
      counts: Record<string, number>,
    ) => {
      const [op] = await db
        .insert(operations)
        .values({ type: "reconcile", state, kmsId: aws.id, input: { heal: false }, finishedAt })
        .returning({ id: operations.id });
      if (!op) throw new Error("no operation inserted");
      await db.insert(operationSteps).values({
        operationId: op.id,
        ordinal: 1,
        name: `compare@${stack.destinations.aws}`,
        state: "succeeded",
        detail: { result: { findings: [], counts } },
      });
    };
    const now = Date.now();
    await reconcile("succeeded", new Date(now - 60_000), { missing_copy: 5 });
    await reconcile("succeeded", new Date(now - 30_000), { missing_copy: 2, untracked: 1 });
    // Later, but failed: not "the drift found".
    await reconcile("failed", new Date(now), { missing_copy: 9 });

    const m = await metrics();
    const found = Object.fromEntries(
      m
        .select("keyferry_drift_findings", { kms: stack.destinations.aws })
        .map((s) => [s.labels.kind, s.value]),
    );
    expect(found).toEqual({
      ...Object.fromEntries(DRIFT_KINDS.map((k) => [k, 0])),
      missing_copy: 2,
      untracked: 1,
    });
    expect(m.select("keyferry_drift_findings", { kms: stack.destinations.azure })).toEqual([]);
    expect(
      m.sum("keyferry_drift_last_reconcile_timestamp_seconds", { kms: stack.destinations.aws }),
    ).toBeCloseTo((now - 30_000) / 1000, 0);
  });

  it("is served by a worker process on KEYFERRY_WORKER_METRICS_PORT, with its own families only", async () => {
    const worker = await startWorkerProcess(
      { ...stack.config, port: 0, metrics: { public: false, workerPort: 0 } },
      silent,
    );
    try {
      if (!worker.metricsUrl) throw new Error("the worker serves no metrics");
      expect((await scrape(worker.metricsUrl, null)).status).toBe(401);
      const answer = await scrape(worker.metricsUrl, auditorToken);
      expect(answer.status).toBe(200);
      const m = parseExposition(answer.text);
      expect(m.type.get("keyferry_provider_call_duration_seconds")).toBe("histogram");
      expect(m.type.get("keyferry_limit_wait_seconds")).toBe("histogram");
      expect(m.type.get("process_resident_memory_bytes")).toBe("gauge");
      // Shared state is the API's to report: N workers would report it N times.
      expect(m.type.has("keyferry_queue_jobs")).toBe(false);
      expect(m.type.has("keyferry_operations")).toBe(false);
      expect((await fetch(worker.metricsUrl.replace("/metrics", "/other"))).status).toBe(404);
    } finally {
      await worker.stop();
    }
  });
});

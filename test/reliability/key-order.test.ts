import { randomBytes } from "node:crypto";
import { KMSClient } from "@aws-sdk/client-kms";
import type { KeyClient } from "@azure/keyvault-keys";
import { inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KeyType } from "../../src/crypto/key-types.js";
import { distributions, keys, keyVersions, kms, operations } from "../../src/db/schema/index.js";
import { startAwsKmsEmulator } from "../../src/emulators/aws-kms/index.js";
import { startAzureKeyVaultEmulator } from "../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../src/emulators/common/options.js";
import { chainAll } from "../../src/ledger/chain.js";
import { parseKeyferryTags } from "../../src/providers/tags.js";
import { useTestDatabase } from "../helpers/database.js";
import { freePort, type PrivateRedis, startPrivateRedis } from "../helpers/private-redis.js";
import { awsKeysByVersion } from "../helpers/remote-inventory.js";
import { spawnKeyferry, stopWorkerProcess, until, type WorkerProcess } from "../helpers/worker-process.js";
import { vaultClient } from "../providers/azure-key-vault/helpers.js";

/**
 * Acceptance test: operations on one key are serialized across processes, and intake refuses duplicates.
 *
 * 2 `keyferry api` and 3 `keyferry worker` processes (the real CLI) share one PostgreSQL and a private
 * Redis; 20 clients send rotate / distribute / remove requests, chosen by a seeded PRNG, on the same 10 keys
 * and two emulated destinations (AWS KMS and Azure Key Vault), half of them with an Idempotency-Key, some of
 * those sent twice at once to both APIs. Then:
 * - every answer is 202, an idempotent replay of the same operation, 409, or 404 for removing a copy that
 *   does not exist and is not being made — never 5xx;
 * - every accepted operation succeeded (none failed `already_distributed` / `not_distributed`: duplicates are
 *   refused at intake), and each copy's accepted operations alternate distribute, remove, distribute, …;
 * - from the ledger's step times, no two operations of one key overlap;
 * - each key's versions are 1..latestVersion, latestVersion = 1 + its succeeded rotations;
 * - each live copy holds exactly one remote object (AWS key / enabled Azure version) per keyferry version;
 * - no process exited.
 *
 * The plan is reproducible: KEY_ORDER_SEED=<n> picks another one (the seed is printed).
 */
const database = useTestDatabase();
const SEED = Number(process.env.KEY_ORDER_SEED ?? 0x6b657931);
const ROOT_KEY = randomBytes(32).toString("base64");
const ADMIN_TOKEN = `kf-order-admin-${randomBytes(24).toString("hex")}`;
const REDIS_PREFIX = "{kf_order}";
const REGION = "eu-west-1";
const AWS_KMS = "aws-order";
const AZURE_KMS = "azure-order";
const DESTINATIONS = [AWS_KMS, AZURE_KMS] as const;
const CLIENTS = 20;
const REQUESTS_PER_CLIENT = 16;
/** Keys of types both clouds take for sign/verify (AWS: SIGN_VERIFY; Azure: EC and RSA keys sign). */
const KEYS: ReadonlyArray<{ name: string; type: KeyType }> = Array.from({ length: 10 }, (_, i) => ({
  name: `order-${String(i).padStart(2, "0")}`,
  type: i < 8 ? "ecdsa-p256" : "rsa-2048",
}));
const DRAIN_TIMEOUT_MS = 75_000;

// ---------------------------------------------------------------------------------------------------------
// Pure helpers (the overlap check is exercised on hand-made intervals below)

/** mulberry32: a small seeded PRNG, so that a failing plan can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Interval {
  key: string;
  operationId: string;
  type: string;
  /** Milliseconds since the epoch. */
  start: number;
  end: number;
}

/**
 * Pairs of operations of the same key whose intervals intersect. Intervals that only touch (one ends in the
 * millisecond the next starts: the ledger keeps milliseconds) do not count.
 */
function overlappingPairs(intervals: readonly Interval[]): string[] {
  const byKey = new Map<string, Interval[]>();
  for (const interval of intervals) byKey.set(interval.key, [...(byKey.get(interval.key) ?? []), interval]);
  const found: string[] = [];
  for (const [key, list] of byKey) {
    const sorted = [...list].sort((a, b) => a.start - b.start || a.end - b.end);
    for (const [i, a] of sorted.entries()) {
      for (const b of sorted.slice(i + 1)) {
        if (b.start >= a.end) break;
        if (a.operationId === b.operationId) continue;
        const by = Math.min(a.end, b.end) - b.start;
        found.push(
          `${key}: ${a.type} ${a.operationId} [${iso(a.start)} .. ${iso(a.end)}] overlaps ` +
            `${b.type} ${b.operationId} [${iso(b.start)} .. ${iso(b.end)}] by ${by} ms`,
        );
      }
    }
  }
  return found;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

// ---------------------------------------------------------------------------------------------------------
// The plan and the answers

type Kind = "rotate" | "distribute" | "remove";

interface PlannedRequest {
  client: number;
  seq: number;
  kind: Kind;
  key: string;
  kms: string | undefined;
  body: { purpose: string[]; protection: "software" | "hsm" } | undefined;
  idempotencyKey: string | undefined;
  /** Sent twice at once, to both APIs, with the same Idempotency-Key and body. */
  duplicate: boolean;
  api: number;
  pauseMs: number;
}

interface Answer {
  request: PlannedRequest;
  /** Which of a duplicate pair (0 or 1); 0 otherwise. */
  copy: number;
  api: number;
  status: number;
  code: string | undefined;
  id: string | undefined;
  replayed: boolean;
  sentAt: number;
  answeredAt: number;
}

function makePlan(seed: number): PlannedRequest[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const plan: PlannedRequest[] = [];
  for (let client = 0; client < CLIENTS; client++) {
    for (let seq = 0; seq < REQUESTS_PER_CLIENT; seq++) {
      const roll = random();
      const kind: Kind = roll < 0.3 ? "rotate" : roll < 0.7 ? "distribute" : "remove";
      const key = pick(KEYS).name;
      const kmsName = kind === "rotate" ? undefined : pick(DESTINATIONS);
      const body =
        kind === "distribute"
          ? {
              purpose: pick([["sign", "verify"], ["sign"]]),
              protection: pick(["software", "hsm"] as const),
            }
          : undefined;
      const idempotent = random() < 0.5;
      const duplicate = idempotent && random() < 0.4;
      plan.push({
        client,
        seq,
        kind,
        key,
        kms: kmsName,
        body,
        idempotencyKey: idempotent ? `order-${seed}-${client}-${seq}` : undefined,
        duplicate,
        api: random() < 0.5 ? 0 : 1,
        pauseMs: Math.floor(random() * 400),
      });
    }
  }
  return plan;
}

function describeRequest(r: PlannedRequest): string {
  const what = r.kind === "rotate" ? `rotate ${r.key}` : `${r.kind} ${r.key}@${r.kms}`;
  return `client ${r.client}#${r.seq} ${what}${r.idempotencyKey ? ` [idem ${r.idempotencyKey}]` : ""}`;
}

// ---------------------------------------------------------------------------------------------------------
// Processes, emulators, clients

let redis: PrivateRedis | undefined;
let aws: RunningEmulator | undefined;
let azure: RunningEmulator | undefined;
let awsClient: KMSClient | undefined;
let vault: KeyClient | undefined;
const apis: Array<{ url: string; process: WorkerProcess }> = [];
const workers: WorkerProcess[] = [];
const all = () => [...apis.map((a) => a.process), ...workers];

function processEnv(): Record<string, string> {
  if (!redis) throw new Error("redis not started");
  return {
    DATABASE_URL: database().url,
    REDIS_URL: redis.url,
    KEYFERRY_REDIS_PREFIX: REDIS_PREFIX,
    KEYFERRY_ROOT_KEY: ROOT_KEY,
    KEYFERRY_ADMIN_TOKEN: ADMIN_TOKEN,
    // The emulators apply no quotas: pacing at the published ones would only make the test slow.
    KEYFERRY_RATE_LIMIT_SCALE: "100",
    // No drift checks: they are operations too, and this test counts every operation.
    KEYFERRY_RECONCILE_INTERVAL_SECONDS: "0",
    KEYFERRY_SHUTDOWN_GRACE_MS: "3000",
  };
}

async function http(
  api: number,
  method: string,
  path: string,
  options: { body?: unknown; idempotencyKey?: string | undefined } = {},
): Promise<{ status: number; json: Record<string, unknown> | undefined; replayed: boolean }> {
  const target = apis[api];
  if (!target) throw new Error(`no api ${api}`);
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = { unparsed: text.slice(0, 200) };
  }
  return { status: response.status, json, replayed: response.headers.get("idempotent-replayed") === "true" };
}

async function send(request: PlannedRequest, api: number, copy: number): Promise<Answer> {
  const path =
    request.kind === "rotate"
      ? `/v1/keys/${request.key}/rotate`
      : `/v1/kms/${request.kms}/keys/${request.key}`;
  const method = request.kind === "rotate" ? "POST" : request.kind === "distribute" ? "PUT" : "DELETE";
  const sentAt = Date.now();
  let result: Awaited<ReturnType<typeof http>>;
  try {
    result = await http(api, method, path, { body: request.body, idempotencyKey: request.idempotencyKey });
  } catch (error) {
    // No answer at all (connection refused or reset): recorded as status 0, which no check allows.
    result = { status: 0, json: { error: { code: `no_answer: ${String(error)}` } }, replayed: false };
  }
  const error = result.json?.error as { code?: string } | undefined;
  const id = typeof result.json?.id === "string" ? result.json.id : undefined;
  return {
    request,
    copy,
    api,
    status: result.status,
    code: error?.code,
    id,
    replayed: result.replayed,
    sentAt,
    answeredAt: Date.now(),
  };
}

async function runClient(requests: readonly PlannedRequest[], answers: Answer[]): Promise<void> {
  for (const request of requests) {
    await new Promise((r) => setTimeout(r, request.pauseMs));
    if (request.duplicate) {
      answers.push(...(await Promise.all([send(request, 0, 0), send(request, 1, 1)])));
    } else {
      answers.push(await send(request, request.api, 0));
    }
  }
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  [aws, azure] = await Promise.all([
    startAwsKmsEmulator({ reuseWrappingKeys: true, quota: { kind: "off" } }),
    startAzureKeyVaultEmulator({ quota: { kind: "off" } }),
  ]);
  awsClient = new KMSClient({
    endpoint: aws.url,
    region: REGION,
    credentials: { accessKeyId: "AKIDEXAMPLEORDER01", secretAccessKey: "test-secret-order-0123456789" },
  });
  vault = vaultClient(azure.url);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    apis.push({
      url: `http://127.0.0.1:${port}`,
      process: spawnKeyferry("api", { ...processEnv(), KEYFERRY_PORT: String(port) }),
    });
  }
  for (let i = 0; i < 3; i++) workers.push(spawnKeyferry("worker", processEnv()));
  for (const [i, api] of apis.entries()) {
    await until(
      async () => {
        try {
          return (await fetch(`${api.url}/readyz`)).status === 200;
        } catch {
          return false;
        }
      },
      `api ${i} to be ready`,
      60_000,
      all(),
    );
  }
}, 90_000);

afterAll(async () => {
  await Promise.all(
    all().map(async (p) => {
      const killer = setTimeout(() => p.child.kill("SIGKILL"), 8_000);
      await stopWorkerProcess(p, "SIGTERM");
      clearTimeout(killer);
    }),
  );
  awsClient?.destroy();
  await Promise.all([aws?.close(), azure?.close(), redis?.stop()]);
}, 30_000);

// ---------------------------------------------------------------------------------------------------------
// What the run leaves for the checks

interface OperationRecord {
  id: string;
  type: string;
  state: string;
  key: string | undefined;
  kms: string | undefined;
  error: { code?: string; message?: string } | null;
  finishedAt: number | undefined;
}

interface Run {
  answers: Answer[];
  operations: Map<string, OperationRecord>;
  /** Operation ids answered with 202 (not replays): what the clients' requests made. */
  accepted: Set<string>;
  /** Per operation, from the ledger. */
  intervals: Map<string, Interval>;
  /** Operations the ledger has no times for. */
  untimed: string[];
  drained: boolean;
}

let run: Run | undefined;

function theRun(): Run {
  if (!run) throw new Error("the load did not run (see the first test's failure)");
  return run;
}

const note = (text: string) => process.stdout.write(`[key-order] ${text}\n`);

async function unfinished(): Promise<number> {
  const [row] = await database()
    .db.select({ count: sql<number>`count(*)::int` })
    .from(operations)
    .where(inArray(operations.state, ["queued", "running"]));
  return row?.count ?? 0;
}

async function loadOperations(): Promise<Map<string, OperationRecord>> {
  const { db } = database();
  const keyNames = new Map(
    (await db.select({ id: keys.id, name: keys.name }).from(keys)).map((k) => [k.id, k]),
  );
  const kmsNames = new Map((await db.select({ id: kms.id, name: kms.name }).from(kms)).map((k) => [k.id, k]));
  const rows = await db.select().from(operations);
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        type: row.type,
        state: row.state,
        key: row.keyId ? keyNames.get(row.keyId)?.name : undefined,
        kms: row.kmsId ? kmsNames.get(row.kmsId)?.name : undefined,
        error: row.error,
        finishedAt: row.finishedAt?.getTime(),
      },
    ]),
  );
}

/**
 * Each operation's interval from the ledger, chained or still pending (one statement, one snapshot: an
 * entry moving from pending to the chain meanwhile is seen once): first `step.started` .. last step end
 * (`step.succeeded`, `step.failed`, `step.throttled`); an operation without steps falls back to
 * `operation.started` .. `operation.succeeded|failed|canceled`.
 */
async function ledgerIntervals(ops: Map<string, OperationRecord>) {
  const { db } = database();
  await chainAll(db);
  const result = await db.execute<{ operation_id: string; event: string; ms: number }>(sql`
    select operation_id, event, (extract(epoch from recorded_at) * 1000)::float8 as ms
      from ledger_entries where operation_id is not null
    union all
    select operation_id, event, (extract(epoch from recorded_at) * 1000)::float8 as ms
      from ledger_pending where operation_id is not null`);
  const times = new Map<string, { stepStart?: number; stepEnd?: number; opStart?: number; opEnd?: number }>();
  for (const row of result.rows) {
    const ms = Math.round(Number(row.ms));
    const t = times.get(row.operation_id) ?? {};
    if (row.event === "step.started") t.stepStart = Math.min(t.stepStart ?? ms, ms);
    if (["step.succeeded", "step.failed", "step.throttled"].includes(row.event)) {
      t.stepEnd = Math.max(t.stepEnd ?? ms, ms);
    }
    if (row.event === "operation.started") t.opStart = Math.min(t.opStart ?? ms, ms);
    if (["operation.succeeded", "operation.failed", "operation.canceled"].includes(row.event)) {
      t.opEnd = Math.max(t.opEnd ?? ms, ms);
    }
    times.set(row.operation_id, t);
  }
  const intervals = new Map<string, Interval>();
  const untimed: string[] = [];
  for (const op of ops.values()) {
    if (!op.key) continue;
    const t = times.get(op.id) ?? {};
    const start = t.stepStart ?? t.opStart;
    const end = t.stepStart !== undefined ? t.stepEnd : t.opEnd;
    if (start === undefined || end === undefined) {
      if (op.state !== "canceled") untimed.push(`${op.type} ${op.id} of ${op.key} (${op.state})`);
      continue;
    }
    intervals.set(op.id, { key: op.key, operationId: op.id, type: op.type, start, end });
  }
  return { intervals, untimed };
}

/** Enabled Azure key versions by `remote name/keyferry version` (tags), live KEKs, untagged versions. */
async function azureEnabledVersions(client: KeyClient) {
  const live = new Map<string, string[]>();
  const keks: string[] = [];
  const untagged: string[] = [];
  for await (const key of client.listPropertiesOfKeys()) {
    if (key.name.startsWith("kf-kek-")) {
      keks.push(key.name);
      continue;
    }
    for await (const version of client.listPropertiesOfKeyVersions(key.name)) {
      const tags = parseKeyferryTags(version.tags ?? {});
      if (!tags || tags.keyName !== key.name) {
        untagged.push(version.id ?? key.name);
        continue;
      }
      // Versions of an earlier, removed copy stay disabled as history when the key is distributed again.
      if (version.enabled !== true) continue;
      const id = `${key.name}/${tags.version}`;
      live.set(id, [...(live.get(id) ?? []), version.id ?? ""]);
    }
  }
  return { live, keks, untagged };
}

/** Accepted distribute/remove operations of each copy (`key@kms`) in the order they ran (ledger times). */
function copyHistories(r: Run): Map<string, OperationRecord[]> {
  const histories = new Map<string, OperationRecord[]>();
  for (const id of r.accepted) {
    const op = r.operations.get(id);
    if (!op || (op.type !== "distribute" && op.type !== "remove")) continue;
    const copy = `${op.key}@${op.kms}`;
    histories.set(copy, [...(histories.get(copy) ?? []), op]);
  }
  const startOf = (op: OperationRecord) => r.intervals.get(op.id)?.start ?? Number.POSITIVE_INFINITY;
  for (const list of histories.values()) list.sort((a, b) => startOf(a) - startOf(b));
  return histories;
}

// ---------------------------------------------------------------------------------------------------------

describe("the overlap check", () => {
  it("finds intervals of one key that intersect, and lets touching ones and other keys' pass", () => {
    const i = (key: string, id: string, start: number, end: number): Interval => ({
      key,
      operationId: id,
      type: "rotate",
      start,
      end,
    });
    expect(overlappingPairs([i("k", "a", 0, 10), i("k", "b", 10, 20), i("k", "c", 20, 25)])).toEqual([]);
    expect(overlappingPairs([i("k", "a", 0, 10), i("j", "b", 5, 15)])).toEqual([]);
    expect(overlappingPairs([i("k", "a", 0, 10), i("k", "b", 9, 20)])).toHaveLength(1);
    // Containment, and an overlap with a later interval than the immediate successor.
    const nested = overlappingPairs([i("k", "a", 0, 100), i("k", "b", 10, 20), i("k", "c", 50, 60)]);
    expect(nested).toHaveLength(2);
    expect(nested[0]).toContain("overlaps");
    expect(overlappingPairs([i("k", "b", 30, 40), i("k", "a", 0, 35)])[0]).toMatch(
      /a .* overlaps .* b .* by 5 ms/,
    );
  });
});

describe("concurrent operations on 10 keys through 2 APIs and 3 workers", () => {
  it("accepts 20 clients' rotate/distribute/remove requests and finishes every operation", {
    timeout: 150_000,
  }, async () => {
    if (!aws || !azure) throw new Error("emulators not started");
    const { db } = database();
    note(`seed ${SEED} (KEY_ORDER_SEED=${SEED} replays this plan)`);

    // Destinations and keys through the API.
    const awsPut = await http(0, "PUT", `/v1/kms/${AWS_KMS}`, {
      body: {
        provider: "awskms",
        keyCollection: REGION,
        credentials: { accessKeyId: "AKIDEXAMPLEORDER01", secretAccessKey: "test-secret-order-0123456789" },
        options: { endpoint: aws.url, pendingWindowDays: 7 },
      },
    });
    expect(awsPut.status, JSON.stringify(awsPut.json)).toBe(201);
    const azurePut = await http(1, "PUT", `/v1/kms/${AZURE_KMS}`, {
      body: { provider: "azurekeyvault", keyCollection: azure.url },
    });
    expect(azurePut.status, JSON.stringify(azurePut.json)).toBe(201);
    for (const [i, key] of KEYS.entries()) {
      const created = await http(i % 2, "POST", "/v1/keys", { body: { name: key.name, type: key.type } });
      expect(created.status, JSON.stringify(created.json)).toBe(202);
    }
    await until(
      async () => {
        const rows = await db.select({ state: keys.state }).from(keys);
        return rows.length === KEYS.length && rows.every((k) => k.state === "active");
      },
      "the 10 keys to be created",
      30_000,
      all(),
    );

    // The load.
    const plan = makePlan(SEED);
    const answers: Answer[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, (_, client) =>
        runClient(
          plan.filter((r) => r.client === client),
          answers,
        ),
      ),
    );
    note(`${answers.length} answers to ${plan.length} requests in ${Date.now() - started} ms`);

    // Until nothing is queued or running.
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let last = Date.now();
    let left = await unfinished();
    while (left > 0 && Date.now() < deadline && all().every((p) => p.child.exitCode === null)) {
      await new Promise((r) => setTimeout(r, 250));
      left = await unfinished();
      if (Date.now() - last > 10_000) {
        note(`${Math.round((Date.now() - started) / 1000)}s: ${left} operations queued or running`);
        last = Date.now();
      }
    }
    note(`drained: ${left === 0} after ${Math.round((Date.now() - started) / 1000)}s`);

    const ops = await loadOperations();
    const { intervals, untimed } = await ledgerIntervals(ops);
    const accepted = new Set(
      answers.filter((a) => a.status === 202 && !a.replayed && a.id).map((a) => a.id as string),
    );
    run = { answers, operations: ops, accepted, intervals, untimed, drained: left === 0 };

    // What the load produced, for the report.
    const tally = new Map<string, number>();
    for (const a of answers) {
      const label = `${a.request.kind} ${a.status}${a.replayed ? " replayed" : ""}${a.code ? ` ${a.code}` : ""}`;
      tally.set(label, (tally.get(label) ?? 0) + 1);
    }
    note(
      `answers:\n  ${[...tally]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n  ")}`,
    );
    const endStates = new Map<string, number>();
    for (const id of accepted) {
      const op = ops.get(id);
      const label = `${op?.type} ${op?.state}${op?.error?.code ? ` ${op.error.code}` : ""}`;
      endStates.set(label, (endStates.get(label) ?? 0) + 1);
    }
    note(
      `accepted operations by end state:\n  ${[...endStates]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n  ")}`,
    );

    expect(answers.length).toBe(plan.length + plan.filter((r) => r.duplicate).length);
    if (left > 0) {
      const stuck = [...ops.values()]
        .filter((op) => op.state === "queued" || op.state === "running")
        .slice(0, 20)
        .map((op) => `${op.type} ${op.id} ${op.key ?? ""}@${op.kms ?? ""} ${op.state}`);
      expect.fail(
        `${left} operations still queued or running after ${DRAIN_TIMEOUT_MS} ms:\n${stuck.join("\n")}`,
      );
    }
  });

  it("answers every request with 202, a replay of the same operation, 409, or 404 — never 5xx", () => {
    const { answers } = theRun();
    const wrong: string[] = [];
    for (const a of answers) {
      const what = `${describeRequest(a.request)} via api ${a.api}: ${a.status} ${a.code ?? ""}`;
      if (a.status === 202 && !a.id) wrong.push(`${what} (202 without an operation id)`);
      else if (a.replayed && a.status !== 200 && a.status !== 202)
        wrong.push(`${what} (a replay of an error)`);
      else if (a.status === 200 && !a.replayed) wrong.push(`${what} (200 without Idempotent-Replayed)`);
      else if (a.status === 404 && (a.request.kind !== "remove" || a.code !== "not_found")) wrong.push(what);
      else if (![200, 202, 404, 409].includes(a.status)) wrong.push(what);
    }
    expect(wrong, `unexpected answers:\n${wrong.join("\n")}`).toEqual([]);

    // Idempotency: a replay carries the operation its twin created; a pair never creates two operations.
    const pairs = new Map<string, Answer[]>();
    for (const a of answers.filter((x) => x.request.duplicate)) {
      const key = a.request.idempotencyKey ?? "";
      pairs.set(key, [...(pairs.get(key) ?? []), a]);
    }
    const badPairs: string[] = [];
    for (const [key, pair] of pairs) {
      const created = pair.filter((a) => a.status === 202 && !a.replayed);
      const replays = pair.filter((a) => a.replayed);
      const summary = pair
        .map((a) => `${a.status}${a.replayed ? " replayed" : ""} ${a.code ?? a.id}`)
        .join(", ");
      if (created.length > 1) badPairs.push(`${key}: two operations for one Idempotency-Key (${summary})`);
      for (const replay of replays) {
        if (created.length !== 1 || replay.id !== created[0]?.id) {
          badPairs.push(`${key}: replay of another operation (${summary})`);
        }
      }
    }
    expect(badPairs, badPairs.join("\n")).toEqual([]);
  });

  it("refuses duplicates at intake: every accepted operation succeeded, none failed as a duplicate", () => {
    const r = theRun();
    // Every 202 is an operation in PostgreSQL, and every rotate/distribute/remove there was answered 202.
    const made = [...r.operations.values()].filter((op) =>
      ["rotate", "distribute", "remove"].includes(op.type),
    );
    expect(made.map((op) => op.id).sort()).toEqual([...r.accepted].sort());

    const duplicates = [...r.accepted]
      .map((id) => r.operations.get(id))
      .filter((op) => op && ["already_distributed", "not_distributed"].includes(op.error?.code ?? ""))
      .map((op) => `${op?.type} ${op?.key}@${op?.kms} ${op?.id}: ${op?.error?.code} (${op?.error?.message})`);
    expect(
      duplicates,
      `${duplicates.length} duplicates accepted at intake (202) that failed later:\n${duplicates.join("\n")}`,
    ).toEqual([]);

    const notSucceeded = [...r.accepted]
      .map((id) => r.operations.get(id))
      .filter((op) => op?.state !== "succeeded")
      .map(
        (op) =>
          `${op?.type} ${op?.key}@${op?.kms ?? ""} ${op?.id}: ${op?.state} ${JSON.stringify(op?.error)}`,
      );
    expect(notSucceeded, `accepted operations that did not succeed:\n${notSucceeded.join("\n")}`).toEqual([]);

    // A copy's accepted operations, in the order they ran, alternate distribute, remove, distribute, …: a
    // second distribute (or remove) in a row was accepted while the copy existed or was being made (removed).
    const sequences: string[] = [];
    for (const [copy, history] of copyHistories(r)) {
      history.forEach((op, i) => {
        const expected = i % 2 === 0 ? "distribute" : "remove";
        if (op.type !== expected) {
          sequences.push(`${copy}: ${history.map((h) => h.type[0]).join("")} (operation ${i + 1}, ${op.id})`);
        }
      });
    }
    expect(sequences, `copies whose operations do not alternate (d/r):\n${sequences.join("\n")}`).toEqual([]);

    // A 404 remove is wrong when a distribute of the copy was accepted (its 202 arrived) before the remove was
    // sent, with no later remove that had finished by the time the 404 came back.
    const histories = copyHistories(r);
    const wrong404: string[] = [];
    const acceptedAt = new Map(
      r.answers
        .filter((a) => a.status === 202 && !a.replayed && a.id)
        .map((a) => [a.id as string, a.answeredAt]),
    );
    for (const a of r.answers.filter((x) => x.status === 404 && x.request.kind === "remove")) {
      const history = histories.get(`${a.request.key}@${a.request.kms}`) ?? [];
      const before = history.filter((op) => (acceptedAt.get(op.id) ?? Number.POSITIVE_INFINITY) < a.sentAt);
      const lastBefore = before.at(-1);
      if (lastBefore?.type !== "distribute") continue;
      const after = history.slice(history.indexOf(lastBefore) + 1);
      const goneInTime = after.some(
        (op) => op.type === "remove" && (op.finishedAt ?? Infinity) <= a.answeredAt,
      );
      if (!goneInTime) {
        wrong404.push(
          `${describeRequest(a.request)}: 404 although distribute ${lastBefore.id} was accepted before`,
        );
      }
    }
    expect(wrong404, wrong404.join("\n")).toEqual([]);
  });

  it("never runs two operations of one key at the same time (ledger step times)", () => {
    const r = theRun();
    expect(r.untimed, `operations without ledger times:\n${r.untimed.join("\n")}`).toEqual([]);
    // Every accepted operation has its interval, and the keys' creations are among the intervals too.
    expect([...r.accepted].filter((id) => !r.intervals.has(id))).toEqual([]);
    expect([...r.intervals.values()].filter((i) => i.type === "create")).toHaveLength(KEYS.length);
    const overlaps = overlappingPairs([...r.intervals.values()]);
    expect(
      overlaps,
      `${overlaps.length} pairs of operations of one key overlap:\n${overlaps.slice(0, 30).join("\n")}`,
    ).toEqual([]);
  });

  it("keeps each key's versions contiguous: 1..latestVersion, one more than its succeeded rotations", async () => {
    const r = theRun();
    const { db } = database();
    const keyRows = await db.select().from(keys);
    const versionRows = await db
      .select({ keyId: keyVersions.keyId, version: keyVersions.version })
      .from(keyVersions);
    const wrong: string[] = [];
    for (const key of keyRows) {
      const versions = versionRows
        .filter((v) => v.keyId === key.id)
        .map((v) => v.version)
        .sort((a, b) => a - b);
      const contiguous = Array.from({ length: key.latestVersion }, (_, i) => i + 1);
      if (JSON.stringify(versions) !== JSON.stringify(contiguous)) {
        wrong.push(`${key.name}: versions ${versions.join(",")} but latestVersion ${key.latestVersion}`);
      }
      const rotations = [...r.operations.values()].filter(
        (op) => op.type === "rotate" && op.key === key.name && op.state === "succeeded",
      ).length;
      if (key.latestVersion !== 1 + rotations) {
        wrong.push(`${key.name}: latestVersion ${key.latestVersion} after ${rotations} succeeded rotations`);
      }
    }
    expect(keyRows).toHaveLength(KEYS.length);
    expect(wrong, wrong.join("\n")).toEqual([]);
  });

  it("leaves exactly one remote version per keyferry version in each live copy, and nothing else", async () => {
    const r = theRun();
    if (!awsClient || !vault) throw new Error("emulators not started");
    const { db } = database();
    const keyRows = await db.select().from(keys);
    const live = await db
      .select({ keyId: distributions.keyId, kmsId: distributions.kmsId, state: distributions.state })
      .from(distributions)
      .where(sql`${distributions.state} <> 'removed'`);
    const kmsRows = await db.select({ id: kms.id, name: kms.name }).from(kms);
    const nameOfKms = new Map(kmsRows.map((k) => [k.id, k.name]));
    const nameOfKey = new Map(keyRows.map((k) => [k.id, k.name]));
    const liveCopies = new Map(
      live.map((d) => [`${nameOfKey.get(d.keyId)}@${nameOfKms.get(d.kmsId)}`, d.state]),
    );

    // What keyferry records agrees with the accepted operations: a copy is live iff its last one distributed.
    const histories = copyHistories(r);
    const records: string[] = [];
    for (const key of KEYS) {
      for (const dest of DESTINATIONS) {
        const copy = `${key.name}@${dest}`;
        const lastOp = histories.get(copy)?.at(-1);
        const state = liveCopies.get(copy);
        const expected = lastOp?.type === "distribute" ? "active" : undefined;
        if (state !== expected)
          records.push(`${copy}: ${state ?? "no copy"}, expected ${expected ?? "no copy"}`);
      }
    }
    expect(records, `distributions that disagree with the operations:\n${records.join("\n")}`).toEqual([]);

    const inAws = await awsKeysByVersion(awsClient);
    const inAzure = await azureEnabledVersions(vault);
    expect(inAws.untagged, "untagged KMS keys").toEqual([]);
    expect(inAzure.untagged, "untagged Azure versions").toEqual([]);
    expect(inAzure.keks, "KEKs left in the vault").toEqual([]);
    const remote: string[] = [];
    for (const key of keyRows) {
      for (const [dest, seen] of [
        [AWS_KMS, inAws.live],
        [AZURE_KMS, inAzure.live],
      ] as const) {
        const isLive = liveCopies.get(`${key.name}@${dest}`) === "active";
        const held = [...seen].filter(([id]) => id.startsWith(`${key.name}/`));
        for (let v = 1; v <= (isLive ? key.latestVersion : 0); v++) {
          const objects = seen.get(`${key.name}/${v}`) ?? [];
          if (objects.length !== 1)
            remote.push(`${key.name}@${dest} v${v}: ${objects.length} remote objects`);
        }
        for (const [id, objects] of held) {
          const v = Number(id.split("/")[1]);
          if (!isLive || v > key.latestVersion) {
            remote.push(
              `${key.name}@${dest}: ${objects.length} live remote objects for ${id}, not in a live copy`,
            );
          }
        }
      }
    }
    expect(remote, `remote inventory:\n${remote.join("\n")}`).toEqual([]);
  });

  it("keeps all 5 processes running", () => {
    const exited = all()
      .map((p, i) => ({ p, name: i < 2 ? `api ${i}` : `worker ${i - 2}` }))
      .filter(({ p }) => p.child.exitCode !== null || p.child.signalCode !== null)
      .map(
        ({ p, name }) =>
          `${name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${p.output.join("").slice(-3000)}`,
      );
    expect(exited, exited.join("\n---\n")).toEqual([]);
  });
});

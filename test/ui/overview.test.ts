import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedgerVerificationCache } from "../../src/api/ui/ledger-verification-cache.js";
import { createSessionCodec, SESSION_COOKIE } from "../../src/api/ui/session.js";
import { kms, operationSteps, operations } from "../../src/db/schema/index.js";
import { chainAll } from "../../src/ledger/chain.js";
import { createTestApi, FAKE_QUEUE_STATS, type TestApi } from "../api/harness.js";
import { useTestDatabase } from "../helpers/database.js";

/**
 * `GET /v1/overview`, the dashboard's shell and its session routes, through `app.inject` over a test
 * database (no Redis, so no job view), and the two pieces under them: the session cookie's codec and the
 * cached ledger verification.
 */
const database = useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  api = await createTestApi(database().db);
});
afterAll(async () => {
  await api?.close();
});

interface Overview {
  counts: Record<string, number>;
  limits: Record<string, number>;
  matrix: { keys: Array<{ name: string }>; destinations: Array<{ name: string }>; cells: unknown[] };
  operations: Array<{ id: string; type: string; state: string }>;
  failures: Array<{ id: string; error?: { code: string; message: string } }>;
  destinations: Array<{ name: string; queued: number; slotsInUse: number | null }>;
  queues: Record<string, Record<string, number>> | null;
  ledger: { entries: Array<{ seq: number; event: string }>; verification: { ok: boolean | null } | null };
  drift: Array<{ kms: string; counts: Record<string, number>; findings: Array<{ kind: string }> }>;
}

const overview = async (token = api.tokens.auditor) => {
  const answer = await api.call("GET", "/v1/overview", { token });
  expect(answer.statusCode).toBe(200);
  return answer.json() as Overview;
};

describe("GET /v1/overview", () => {
  it("answers auditors with the matrix, operations, failures, destinations, queues, ledger and drift", async () => {
    expect((await api.call("GET", "/v1/overview", { token: null })).statusCode).toBe(401);
    expect((await api.call("GET", "/v1/overview?verbose=1")).statusCode).toBe(400);
    const created = await api.call("POST", "/v1/keys", { body: { name: "ov-key", type: "ecdsa-p256" } });
    expect(created.statusCode).toBe(202);
    const put = await api.call("PUT", "/v1/kms/ov-aws", {
      body: { provider: "awskms", keyCollection: "us-east-1", options: { endpoint: "http://127.0.0.1:9" } },
    });
    expect(put.statusCode).toBe(201);
    const { db } = database();
    // A failure and a finished drift check, written as the workers would.
    const [failed] = await db
      .insert(operations)
      .values({ type: "rotate", state: "failed", error: { code: "boom", message: "the cloud said no" } })
      .returning();
    const [destination] = await db.select().from(kms).where(sql`${kms.name} = 'ov-aws'`);
    const [reconcile] = await db
      .insert(operations)
      .values({ type: "reconcile", state: "succeeded", kmsId: destination?.id, finishedAt: new Date() })
      .returning();
    await db.insert(operationSteps).values({
      operationId: reconcile?.id ?? "",
      ordinal: 1,
      name: "compare@ov-aws",
      state: "succeeded",
      detail: {
        result: {
          findings: [{ kind: "missing_copy", key: "ov-key", message: "no copy in the cloud" }],
          counts: { missing_copy: 1 },
        },
      },
    });
    await chainAll(db);

    const seen = await overview();
    expect(seen.counts).toMatchObject({ keys: 1, destinations: 1, inFlight: 1, failedLastDay: 1 });
    expect(seen.limits.keys).toBeGreaterThan(0);
    expect(seen.matrix.keys.map((k) => k.name)).toEqual(["ov-key"]);
    expect(seen.matrix.destinations.map((d) => d.name)).toEqual(["ov-aws"]);
    expect(seen.operations.map((o) => o.id)).toContain(created.json().id);
    expect(seen.failures).toEqual([
      expect.objectContaining({ id: failed?.id, error: { code: "boom", message: "the cloud said no" } }),
    ]);
    expect(seen.destinations).toEqual([
      expect.objectContaining({ name: "ov-aws", queued: 0, slotsInUse: 0 }),
    ]);
    expect(seen.queues).toEqual(FAKE_QUEUE_STATS.queues);
    expect(seen.ledger.entries.length).toBeGreaterThan(0);
    expect(seen.ledger.entries[0]?.seq).toBeGreaterThan(seen.ledger.entries.at(-1)?.seq ?? 0);
    expect(seen.drift).toEqual([
      expect.objectContaining({ kms: "ov-aws", counts: { missing_copy: 1 }, findings: [expect.anything()] }),
    ]);
    // The first poll started the chain verification; a later one shows its result.
    await expect.poll(async () => (await overview()).ledger.verification?.ok, { timeout: 20_000 }).toBe(true);
  });
});

describe("the dashboard's shell and session", () => {
  it("serves the shell with a strict CSP, and no job view without queues", async () => {
    const page = await api.app.inject("/ui");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'self'/);
    expect(page.payload).toContain("/ui/assets/dashboard.js");
    const script = await api.app.inject("/ui/assets/dashboard.js");
    expect(script.headers["content-type"]).toMatch(/javascript/);
    expect((await api.app.inject("/ui/assets/../context.ts")).statusCode).toBe(404);
    expect((await api.app.inject("/ui/queues/")).statusCode).toBe(404);
  });

  it("POST /ui/session sets an HttpOnly, SameSite=Strict cookie holding no token; DELETE clears it", async () => {
    expect((await api.call("POST", "/ui/session", { token: null })).statusCode).toBe(401);
    const opened = await api.call("POST", "/ui/session", { token: api.tokens.operator });
    expect(opened.statusCode).toBe(200);
    expect(opened.json()).toMatchObject({ role: "operator", jobBoards: null });
    const cookie = String(opened.headers["set-cookie"]);
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=v1\\.`));
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/ui");
    expect(cookie).not.toContain(api.tokens.operator);
    const closed = await api.call("DELETE", "/ui/session", { token: null });
    expect(closed.statusCode).toBe(204);
    expect(String(closed.headers["set-cookie"])).toContain("Max-Age=0");
  });
});

describe("the session cookie's codec", () => {
  const root = randomBytes(32);
  const codec = createSessionCodec(root, "admin-token-one");
  const tokenId = "8a1f3c9e-0000-4000-8000-000000000001";

  it("opens what it issued until it expires, and nothing altered", () => {
    const value = codec.issue(tokenId, 2_000);
    expect(codec.open(value, 1_999)).toBe(tokenId);
    expect(codec.open(value, 2_000)).toBeNull();
    const [format, body, tag] = value.split(".");
    const longer = Buffer.from(JSON.stringify({ t: tokenId, e: 9_999 })).toString("base64url");
    expect(codec.open(`${format}.${longer}.${tag}`, 1_000)).toBeNull();
    expect(codec.open(`${format}.${body}.${tag?.slice(1)}`, 1_000)).toBeNull();
    expect(codec.open("", 1_000)).toBeNull();
  });

  it("refuses cookies made under another root key or another bootstrap admin token", () => {
    const value = codec.issue(tokenId, 2_000);
    expect(createSessionCodec(root, "admin-token-two").open(value, 1_000)).toBeNull();
    expect(createSessionCodec(randomBytes(32), "admin-token-one").open(value, 1_000)).toBeNull();
  });
});

describe("the cached ledger verification", () => {
  it("verifies at most once per maxAge, in the background", async () => {
    let now = 1_000_000;
    const cache = createLedgerVerificationCache(database().db, { maxAgeMs: 60_000, now: () => now });
    expect(cache.latest()).toBeNull();
    await cache.settled();
    const first = cache.latest();
    expect(first).toMatchObject({ ok: true });
    now += 59_000;
    expect(cache.latest()).toBe(first);
    await cache.settled();
    expect(cache.latest()).toBe(first);
    now += 1_000;
    cache.latest();
    await cache.settled();
    expect(cache.latest()).not.toBe(first);
    expect(cache.latest()?.checkedAt).toBe(new Date(now).toISOString());
  });
});

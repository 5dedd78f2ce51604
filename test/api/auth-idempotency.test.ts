import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_TOKEN_ID, hashSecret } from "../../src/api/auth.js";
import { apiTokens, idempotencyRecords, operations } from "../../src/db/schema/index.js";
import { useTestDatabase } from "../helpers/database.js";
import { ADMIN_TOKEN, createTestApi, type TestApi } from "./harness.js";

const database = useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  api = await createTestApi(database().db);
});
afterAll(async () => {
  await api?.close();
});

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
const ID = "00000000-0000-4000-8000-000000000001";

/** [method, url, body, the least role allowed]. */
const MATRIX: Array<[Method, string, unknown, "auditor" | "operator" | "admin"]> = [
  ["POST", "/v1/keys", { name: "m", type: "rsa-2048" }, "operator"],
  ["GET", "/v1/keys", undefined, "auditor"],
  ["GET", "/v1/keys/m", undefined, "auditor"],
  ["PATCH", "/v1/keys/m", { deletionAllowed: true }, "operator"],
  ["DELETE", "/v1/keys/m", undefined, "operator"],
  ["POST", "/v1/keys/m/rotate", undefined, "operator"],
  ["GET", "/v1/keys/m/kms", undefined, "auditor"],
  ["POST", "/v1/keys/m/export", { format: "aws", kekPem: "x" }, "admin"],
  ["PUT", "/v1/kms/k", { provider: "awskms", keyCollection: "eu-west-1" }, "admin"],
  ["GET", "/v1/kms", undefined, "auditor"],
  ["GET", "/v1/kms/k", undefined, "auditor"],
  ["DELETE", "/v1/kms/k", undefined, "admin"],
  ["GET", "/v1/kms/k/keys", undefined, "auditor"],
  ["PUT", "/v1/kms/k/keys/m", { purpose: ["decrypt"], protection: "hsm" }, "operator"],
  ["GET", "/v1/kms/k/keys/m", undefined, "auditor"],
  ["DELETE", "/v1/kms/k/keys/m", undefined, "operator"],
  ["GET", "/v1/operations", undefined, "auditor"],
  ["GET", `/v1/operations/${ID}`, undefined, "auditor"],
  ["POST", `/v1/operations/${ID}/cancel`, undefined, "operator"],
  ["POST", `/v1/operations/${ID}/retry`, undefined, "operator"],
  ["POST", "/v1/tokens", { role: "auditor", name: "x" }, "admin"],
  ["GET", "/v1/tokens", undefined, "admin"],
  ["DELETE", `/v1/tokens/${ID}`, undefined, "admin"],
  ["GET", "/v1/ledger", undefined, "auditor"],
  ["GET", "/v1/ledger/verify", undefined, "auditor"],
  ["GET", "/v1/queues", undefined, "auditor"],
];

const RANK = { auditor: 0, operator: 1, admin: 2 } as const;

describe("authentication and roles", () => {
  it("401 without a token or with a bad one, on every route, before any validation", async () => {
    for (const [method, url] of MATRIX) {
      for (const token of [null, "kf_not-a-token", "garbage"]) {
        const response = await api.call(method, url, { token, body: { unknown: true } });
        expect(response.statusCode, `${method} ${url} ${token}`).toBe(401);
        expect(response.json().error.code).toBe("unauthorized");
      }
    }
  });

  it("403 for a role below the route's, anything but 401/403 at or above it", async () => {
    for (const [method, url, body, least] of MATRIX) {
      for (const role of ["auditor", "operator", "admin"] as const) {
        const response = await api.call(method, url, { token: api.tokens[role], body });
        if (RANK[role] < RANK[least]) {
          expect(response.statusCode, `${role} ${method} ${url}`).toBe(403);
          expect(response.json().error.code).toBe("forbidden");
        } else {
          expect([401, 403], `${role} ${method} ${url}`).not.toContain(response.statusCode);
        }
      }
    }
  });

  it("the bootstrap admin token works, has its own row, and its row never matches by hash", async () => {
    const response = await api.call("GET", "/v1/tokens", { token: ADMIN_TOKEN });
    expect(response.statusCode).toBe(200);
    const [row] = await database().db.select().from(apiTokens).where(eq(apiTokens.id, BOOTSTRAP_TOKEN_ID));
    expect(row).toMatchObject({ role: "admin", name: "bootstrap-admin" });
    expect(row?.secretHash.equals(hashSecret(ADMIN_TOKEN))).toBe(false);
    expect((await api.call("DELETE", `/v1/tokens/${BOOTSTRAP_TOKEN_ID}`)).statusCode).toBe(409);
  });

  it("revoked tokens are refused; last_used_at is recorded", async () => {
    const issued = await api.call("POST", "/v1/tokens", { body: { role: "auditor", name: "short-lived" } });
    expect(issued.statusCode).toBe(201);
    const { id, secret } = issued.json();
    expect((await api.call("GET", "/v1/keys", { token: secret })).statusCode).toBe(200);
    const [used] = await database().db.select().from(apiTokens).where(eq(apiTokens.id, id));
    expect(used?.lastUsedAt).toBeInstanceOf(Date);
    expect(used?.secretHash.equals(hashSecret(secret))).toBe(true);
    expect((await api.call("DELETE", `/v1/tokens/${id}`)).statusCode).toBe(204);
    expect((await api.call("GET", "/v1/keys", { token: secret })).statusCode).toBe(401);
  });
});

describe("Idempotency-Key", () => {
  const create = (name: string, key: string, token?: string) =>
    api.call("POST", "/v1/keys", {
      body: { name, type: "ecdsa-p256" },
      headers: { "idempotency-key": key },
      ...(token ? { token } : {}),
    });

  it("replays the original answer with Idempotent-Replayed: true and the same operation id", async () => {
    const first = await create("idem-1", "key-a", api.tokens.operator);
    expect(first.statusCode).toBe(202);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const again = await create("idem-1", "key-a", api.tokens.operator);
    expect(again.statusCode).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json().id).toBe(first.json().id);
    const ops = await database().db.select().from(operations).where(eq(operations.id, first.json().id));
    expect(ops).toHaveLength(1);
  });

  it("422 for the same key with another request; keys are scoped per token", async () => {
    const reused = await create("idem-2", "key-a", api.tokens.operator);
    expect(reused.statusCode).toBe(422);
    expect(reused.json().error.code).toBe("idempotency_key_reused");
    // Another token's "key-a" is its own: a new request, here a 409 because idem-1 exists.
    const other = await create("idem-1", "key-a", api.tokens.admin);
    expect(other.statusCode).toBe(409);
    expect(other.json().error.code).toBe("key_exists");
    const fresh = await create("idem-3", "key-a", api.tokens.admin);
    expect(fresh.statusCode).toBe(202);
  });

  it("409 while a request with the same key is still in flight", async () => {
    const db = database().db;
    const [admin] = await db.select().from(apiTokens).where(eq(apiTokens.name, "test-admin"));
    if (!admin) throw new Error("no admin token row");
    // Hold the (token, key) lock as an in-flight request would, in another transaction.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = db.transaction(async (tx) => {
      await tx.execute(`SELECT pg_advisory_xact_lock(hashtextextended('${admin.id}\nkey-busy', 7))`);
      locked();
      await held;
    });
    await isLocked;
    const busy = await create("idem-4", "key-busy");
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.code).toBe("idempotency_in_flight");
    release();
    await holder;
    expect((await create("idem-4", "key-busy")).statusCode).toBe(202);
  });

  it("keeps records ≥ 24 h; failed requests leave none; token secrets are not stored", async () => {
    const db = database().db;
    const [record] = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, "key-busy"));
    expect(record?.state).toBe("completed");
    expect(record?.expiresAt.getTime()).toBeGreaterThanOrEqual(Date.now() + 24 * 3600 * 1000 - 60_000);

    const failed = await create("idem-1", "key-failed");
    expect(failed.statusCode).toBe(409);
    expect(
      await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, "key-failed")),
    ).toEqual([]);

    const headers = { "idempotency-key": "token-1" };
    const issued = await api.call("POST", "/v1/tokens", { body: { role: "operator", name: "ci" }, headers });
    expect(issued.json().secret).toMatch(/^kf_/);
    const replay = await api.call("POST", "/v1/tokens", { body: { role: "operator", name: "ci" }, headers });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.json().id).toBe(issued.json().id);
    expect(replay.json()).not.toHaveProperty("secret");
    const [stored] = await db.select().from(idempotencyRecords).where(eq(idempotencyRecords.key, "token-1"));
    expect(JSON.stringify(stored?.responseBody)).not.toContain(issued.json().secret);
  });
});

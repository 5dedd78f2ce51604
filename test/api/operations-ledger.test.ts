import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operations, outbox } from "../../src/db/schema/index.js";
import { chainAll } from "../../src/ledger/chain.js";
import { useTestDatabase } from "../helpers/database.js";
import { createTestApi, FAKE_QUEUE_STATS, type TestApi } from "./harness.js";

const database = useTestDatabase();
let api: TestApi;
let createId = "";

beforeAll(async () => {
  api = await createTestApi(database().db);
  const created = await api.call("POST", "/v1/keys", { body: { name: "ops-key", type: "ecdsa-p256" } });
  createId = created.json().id;
});
afterAll(async () => {
  await api?.close();
});

describe("operations", () => {
  it("GET /v1/operations/{id} shows steps with their result only, never the journal", async () => {
    const db = database().db;
    const { operationSteps } = await import("../../src/db/schema/index.js");
    await db.insert(operationSteps).values({
      operationId: createId,
      ordinal: 1,
      name: "generate",
      state: "succeeded",
      attempts: 1,
      detail: { result: { version: 1 }, journal: { intent: "internal" } },
    });
    const read = await api.call("GET", `/v1/operations/${createId}`, { token: api.tokens.auditor });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({
      id: createId,
      type: "create",
      state: "queued",
      key: "ops-key",
      steps: [{ name: "generate", state: "succeeded", attempts: 1, detail: { result: { version: 1 } } }],
    });
    expect(read.payload).not.toContain("journal");
    expect((await api.call("GET", "/v1/operations/00000000-0000-4000-8000-000000000009")).statusCode).toBe(
      404,
    );
    expect((await api.call("GET", "/v1/operations/not-a-uuid")).statusCode).toBe(400);
  });

  it("lists with filters and pages with a cursor", async () => {
    await api.call("POST", "/v1/keys/ops-key/rotate");
    await api.call("POST", "/v1/keys/ops-key/rotate");
    const page = await api.call("GET", "/v1/operations?key=ops-key&limit=2");
    expect(page.json().items).toHaveLength(2);
    const rest = await api.call("GET", `/v1/operations?key=ops-key&limit=2&cursor=${page.json().nextCursor}`);
    expect(rest.json().items.map((o: { type: string }) => o.type)).toEqual(["create"]);
    const rotations = await api.call("GET", "/v1/operations?type=rotate&state=queued");
    expect(rotations.json().items).toHaveLength(2);
    expect((await api.call("GET", "/v1/operations?color=red")).statusCode).toBe(400);
    expect((await api.call("GET", "/v1/operations?cursor=zzz")).statusCode).toBe(422);
  });

  it("cancel: queued → canceled (202); finished → 409", async () => {
    const rotations = (await api.call("GET", "/v1/operations?type=rotate")).json().items;
    const canceled = await api.call("POST", `/v1/operations/${rotations[0].id}/cancel`, {
      token: api.tokens.operator,
    });
    expect(canceled.statusCode).toBe(202);
    expect(canceled.json().state).toBe("canceled");
    const again = await api.call("POST", `/v1/operations/${rotations[0].id}/cancel`);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe("operation_finished");
  });

  it("retry: failed → queued with a new outbox row (202); not failed → 409", async () => {
    const db = database().db;
    const rotations = (await api.call("GET", "/v1/operations?type=rotate&state=queued")).json().items;
    const id = rotations[0].id;
    expect((await api.call("POST", `/v1/operations/${id}/retry`)).statusCode).toBe(409);
    await db.delete(outbox).where(eq(outbox.operationId, id));
    await db
      .update(operations)
      .set({ state: "failed", error: { code: "x", message: "failed once" } })
      .where(eq(operations.id, id));
    const failed = await api.call("GET", `/v1/operations/${id}`);
    expect(failed.json().error).toEqual({ code: "x", message: "failed once" });
    const retried = await api.call("POST", `/v1/operations/${id}/retry`, { token: api.tokens.operator });
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toMatchObject({ state: "queued" });
    expect(retried.json()).not.toHaveProperty("error");
    expect(await db.select().from(outbox).where(eq(outbox.operationId, id))).toHaveLength(1);
  });
});

describe("ledger, queues, tokens, docs", () => {
  it("GET /v1/ledger pages by seq and filters; verify answers {ok, entries, head}", async () => {
    await chainAll(database().db);
    const all = await api.call("GET", "/v1/ledger?key=ops-key", { token: api.tokens.auditor });
    expect(all.statusCode).toBe(200);
    const items = all.json().items;
    expect(items.length).toBeGreaterThanOrEqual(3);
    expect(items[0]).toMatchObject({ event: "operation.accepted", key: "ops-key" });
    expect(items[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const after = await api.call("GET", `/v1/ledger?after=${items[0].seq}&limit=1`);
    expect(after.json().items[0].seq).toBeGreaterThan(items[0].seq);
    expect(after.json().next).toBe(after.json().items[0].seq);
    const verify = await api.call("GET", "/v1/ledger/verify", { token: api.tokens.auditor });
    expect(verify.statusCode).toBe(200);
    expect(verify.json()).toEqual({
      ok: true,
      entries: expect.any(Number),
      head: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it("GET /v1/queues answers the injected queue statistics", async () => {
    const queues = await api.call("GET", "/v1/queues", { token: api.tokens.auditor });
    expect(queues.statusCode).toBe(200);
    expect(queues.json()).toEqual(FAKE_QUEUE_STATS);
  });

  it("tokens: issued with a kf_ secret shown once, listed without secrets", async () => {
    const issued = await api.call("POST", "/v1/tokens", { body: { role: "operator", name: "deploy" } });
    expect(issued.statusCode).toBe(201);
    expect(issued.json()).toMatchObject({ role: "operator", name: "deploy" });
    const list = await api.call("GET", "/v1/tokens");
    expect(list.payload).not.toContain(issued.json().secret);
    expect(list.json().items.some((t: { id: string }) => t.id === issued.json().id)).toBe(true);
    expect((await api.call("POST", "/v1/tokens", { body: { role: "root", name: "x" } })).statusCode).toBe(
      400,
    );
  });

  it("serves the OpenAPI document with the bearer scheme and every route", async () => {
    const doc = await api.app.inject("/docs/json");
    expect(doc.statusCode).toBe(200);
    const openapi = doc.json();
    expect(openapi.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const path of [
      "/v1/keys",
      "/v1/keys/{name}",
      "/v1/keys/{name}/rotate",
      "/v1/keys/{name}/kms",
      "/v1/keys/{name}/export",
      "/v1/kms",
      "/v1/kms/{name}",
      "/v1/kms/{kms}/keys",
      "/v1/kms/{kms}/keys/{key}",
      "/v1/operations",
      "/v1/operations/{id}",
      "/v1/operations/{id}/cancel",
      "/v1/operations/{id}/retry",
      "/v1/tokens",
      "/v1/tokens/{id}",
      "/v1/ledger",
      "/v1/ledger/verify",
      "/v1/queues",
    ]) {
      expect(openapi.paths[path], path).toBeDefined();
    }
    expect(openapi.paths["/v1/keys"].post.responses["202"]).toBeDefined();
    expect(openapi.paths["/v1/keys"].post.responses["422"]).toBeDefined();
    const ui = await api.app.inject("/docs");
    expect([200, 302]).toContain(ui.statusCode);
  });

  it("an unknown route is a 404 with the error shape", async () => {
    const response = await api.call("GET", "/v1/nothing");
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("not_found");
  });
});

import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operations } from "../../src/db/schema/index.js";
import { useTestDatabase } from "../helpers/database.js";
import { createTestApi, type TestApi } from "./harness.js";

/** `POST /v1/kms/{kms}/reconcile`: accepted as a reconcile operation; the engine's side is in test/operations. */
const database = useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  api = await createTestApi(database().db);
  const created = await api.call("PUT", "/v1/kms/aws-drift", {
    body: { provider: "awskms", keyCollection: "eu-west-1", options: { endpoint: "http://127.0.0.1:4599" } },
  });
  expect(created.statusCode).toBe(201);
});
afterAll(async () => {
  await api?.close();
});

describe("POST /v1/kms/{kms}/reconcile", () => {
  it("answers 202 with a queued reconcile operation; heal defaults to false", async () => {
    for (const [body, heal] of [
      [undefined, false],
      [{}, false],
      [{ heal: true }, true],
    ] as const) {
      const answer = await api.call("POST", "/v1/kms/aws-drift/reconcile", {
        token: api.tokens.operator,
        ...(body === undefined ? {} : { body }),
      });
      expect(answer.statusCode, answer.payload).toBe(202);
      expect(answer.json()).toMatchObject({
        type: "reconcile",
        state: "queued",
        kms: "aws-drift",
        steps: [],
      });
      const [row] = await database().db.select().from(operations).where(eq(operations.id, answer.json().id));
      expect(row?.input).toEqual({ heal });
      expect(row?.keyId).toBeNull();
    }
  });

  it("refuses an unknown kms (404), unknown fields (400) and auditors (403)", async () => {
    const unknown = await api.call("POST", "/v1/kms/nowhere/reconcile", { body: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe("not_found");
    const extra = await api.call("POST", "/v1/kms/aws-drift/reconcile", {
      body: { heal: true, force: true },
    });
    expect(extra.statusCode).toBe(400);
    const notBoolean = await api.call("POST", "/v1/kms/aws-drift/reconcile", { body: { heal: "yes" } });
    expect(notBoolean.statusCode).toBe(400);
    const auditor = await api.call("POST", "/v1/kms/aws-drift/reconcile", {
      token: api.tokens.auditor,
      body: {},
    });
    expect(auditor.statusCode).toBe(403);
  });

  it("replays the same Idempotency-Key with the same operation", async () => {
    const headers = { "idempotency-key": "reconcile-once" };
    const first = await api.call("POST", "/v1/kms/aws-drift/reconcile", { body: { heal: true }, headers });
    const again = await api.call("POST", "/v1/kms/aws-drift/reconcile", { body: { heal: true }, headers });
    expect(again.statusCode).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json().id).toBe(first.json().id);
    const other = await api.call("POST", "/v1/kms/aws-drift/reconcile", { body: { heal: false }, headers });
    expect(other.statusCode).toBe(422);
  });

  it("is in the OpenAPI document with its error answers", async () => {
    const doc = (await api.app.inject({ method: "GET", url: "/docs/json" })).json();
    const post = doc.paths["/v1/kms/{kms}/reconcile"]?.post;
    expect(Object.keys(post?.responses ?? {}).sort()).toEqual(
      ["202", "400", "401", "403", "404", "409", "413", "415", "422", "503"].sort(),
    );
  });
});

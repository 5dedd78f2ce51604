import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSealedVersion, insertKeyVersion } from "../../src/custody/key-versions.js";
import { distributions, keys, kms, ledgerPending, operations, outbox } from "../../src/db/schema/index.js";
import { useTestDatabase } from "../helpers/database.js";
import { createTestApi, type TestApi } from "./harness.js";

const database = useTestDatabase();
let api: TestApi;

beforeAll(async () => {
  api = await createTestApi(database().db);
});
afterAll(async () => {
  await api?.close();
});

describe("keys", () => {
  it("POST /v1/keys answers 202 with an operation whose outbox row and ledger entry exist", async () => {
    const response = await api.call("POST", "/v1/keys", {
      token: api.tokens.operator,
      body: { name: "payments", type: "rsa-2048", rotationPeriod: "90d" },
    });
    expect(response.statusCode).toBe(202);
    const operation = response.json();
    expect(operation).toMatchObject({ type: "create", state: "queued", key: "payments", steps: [] });
    const db = database().db;
    expect(await db.select().from(outbox).where(eq(outbox.operationId, operation.id))).toHaveLength(1);
    const ledger = await db.select().from(ledgerPending).where(eq(ledgerPending.operationId, operation.id));
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({
      event: "operation.accepted",
      keyName: "payments",
      actor: "test-operator",
    });
    const [key] = await db.select().from(keys).where(eq(keys.name, "payments"));
    expect(key).toMatchObject({ state: "creating", rotationPeriodSeconds: 90 * 86400 });
  });

  it("refuses a second key of the same name (409), bad names, unknown fields and short periods", async () => {
    expect(
      (await api.call("POST", "/v1/keys", { body: { name: "payments", type: "rsa-2048" } })).statusCode,
    ).toBe(409);
    const badName = await api.call("POST", "/v1/keys", { body: { name: "-bad name", type: "rsa-2048" } });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.code).toBe("invalid_request");
    expect(JSON.stringify(badName.json().error.details)).toContain("name");
    const unknown = await api.call("POST", "/v1/keys", {
      body: { name: "k1", type: "rsa-2048", color: "red" },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.details.issues[0].fields).toEqual(["color"]);
    const malformed = await api.call("POST", "/v1/keys", { raw: '{"name": "k1", "secret": ' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe("invalid_request");
    const short = await api.call("POST", "/v1/keys", {
      body: { name: "k1", type: "rsa-2048", rotationPeriod: "30m" },
    });
    expect(short.statusCode).toBe(422);
    expect(short.json().error.code).toBe("rotation_period_too_short");
  });

  it("lists and reads keys, with versions and public keys", async () => {
    const db = database().db;
    const [key] = await db.select().from(keys).where(eq(keys.name, "payments"));
    if (!key) throw new Error("no key");
    await insertKeyVersion(
      db,
      key.id,
      await generateSealedVersion(api.ring, { name: "payments", type: "rsa-2048" }, 1),
    );
    await db.update(keys).set({ state: "active", latestVersion: 1 }).where(eq(keys.id, key.id));
    const list = await api.call("GET", "/v1/keys", { token: api.tokens.auditor });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((k: { name: string }) => k.name)).toEqual(["payments"]);
    const read = await api.call("GET", "/v1/keys/payments", { token: api.tokens.auditor });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({
      name: "payments",
      type: "rsa-2048",
      latestVersion: 1,
      rotationPeriod: "90d",
      distributions: [],
    });
    expect(read.json().versions["1"].publicKey).toContain("BEGIN PUBLIC KEY");
    expect((await api.call("GET", "/v1/keys/nothing")).statusCode).toBe(404);
    expect((await api.call("GET", "/v1/keys/nothing")).json().error.code).toBe("not_found");
  });

  it("PATCH, rotate and DELETE are operations; DELETE is 409 unless allowed and distributed nowhere", async () => {
    const patch = await api.call("PATCH", "/v1/keys/payments", {
      token: api.tokens.operator,
      body: { deletionAllowed: true, minEnabledVersion: 1 },
    });
    expect(patch.statusCode).toBe(202);
    expect(patch.json()).toMatchObject({ type: "update", state: "queued" });
    const tooHigh = await api.call("PATCH", "/v1/keys/payments", { body: { minEnabledVersion: 5 } });
    expect(tooHigh.statusCode).toBe(422);
    expect((await api.call("PATCH", "/v1/keys/payments", { body: {} })).statusCode).toBe(400);

    const rotate = await api.call("POST", "/v1/keys/payments/rotate", { token: api.tokens.operator });
    expect(rotate.statusCode).toBe(202);
    expect(rotate.json()).toMatchObject({ type: "rotate", key: "payments" });

    const notAllowed = await api.call("DELETE", "/v1/keys/payments", { token: api.tokens.operator });
    expect(notAllowed.statusCode).toBe(409);
    expect(notAllowed.json().error.code).toBe("deletion_not_allowed");

    const db = database().db;
    await db.update(keys).set({ deletionAllowed: true }).where(eq(keys.name, "payments"));
    const [destination] = await db
      .insert(kms)
      .values({ name: "aws-dev", provider: "awskms", keyCollection: "eu-west-1" })
      .returning();
    const [key] = await db.select().from(keys).where(eq(keys.name, "payments"));
    if (!destination || !key) throw new Error("setup");
    await db.insert(distributions).values({
      keyId: key.id,
      kmsId: destination.id,
      purposes: ["decrypt"],
      protection: "hsm",
      state: "active",
    });
    const distributed = await api.call("DELETE", "/v1/keys/payments", { token: api.tokens.operator });
    expect(distributed.statusCode).toBe(409);
    expect(distributed.json().error).toMatchObject({
      code: "key_distributed",
      details: { kms: ["aws-dev"] },
    });

    await db.update(distributions).set({ state: "removed" }).where(eq(distributions.keyId, key.id));
    const deleted = await api.call("DELETE", "/v1/keys/payments", { token: api.tokens.operator });
    expect(deleted.statusCode).toBe(202);
    expect(deleted.json()).toMatchObject({ type: "delete" });
    const ops = await db.select().from(operations).where(eq(operations.keyId, key.id));
    expect(ops.map((o) => o.type).sort()).toEqual(["create", "delete", "rotate", "update"]);
  });
});

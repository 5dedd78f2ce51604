import { generateKeyPairSync } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unseal } from "../../src/crypto/seal.js";
import { generateSealedVersion, insertKeyVersion } from "../../src/custody/key-versions.js";
import { distributions, keys, kms, ledgerPending } from "../../src/db/schema/index.js";
import { useTestDatabase } from "../helpers/database.js";
import { createTestApi, type TestApi } from "./harness.js";

const database = useTestDatabase();
let api: TestApi;
const SECRET_ACCESS_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-EXAMPLEKEY-secret";
const CLIENT_SECRET = "azure-client-secret-never-shown-0xC0FFEE";

async function activeKey(
  name: string,
  type: "rsa-2048" | "ecdsa-p256" | "aes256-gcm96",
  offlineExport = false,
) {
  const db = database().db;
  const [key] = await db
    .insert(keys)
    .values({ name, type, state: "active", latestVersion: 1, offlineExport })
    .returning();
  if (!key) throw new Error("no key");
  await insertKeyVersion(db, key.id, await generateSealedVersion(api.ring, { name, type }, 1));
  return key;
}

beforeAll(async () => {
  api = await createTestApi(database().db);
});
afterAll(async () => {
  // No answer of this file ever carried a credential.
  const all = api.answers.join("\n");
  expect(all).not.toContain(SECRET_ACCESS_KEY);
  expect(all).not.toContain(CLIENT_SECRET);
  await api?.close();
});

describe("kms destinations", () => {
  it("PUT creates (201) then updates (200), seals credentials and never returns them", async () => {
    const created = await api.call("PUT", "/v1/kms/aws-dev", {
      body: {
        provider: "awskms",
        keyCollection: "eu-west-1",
        credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE", secretAccessKey: SECRET_ACCESS_KEY },
        options: { endpoint: "http://127.0.0.1:4599", pendingWindowDays: 7 },
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      name: "aws-dev",
      provider: "awskms",
      hasCredentials: true,
      revision: 1,
    });
    expect(created.json()).not.toHaveProperty("credentials");
    const [row] = await database().db.select().from(kms).where(eq(kms.name, "aws-dev"));
    if (!row?.sealedCredentials) throw new Error("not sealed");
    expect(row.sealedCredentials.toString("latin1")).not.toContain(SECRET_ACCESS_KEY);
    const opened = unseal(api.ring.all, row.sealedCredentials, {
      purpose: "kms-credentials",
      name: "aws-dev",
    });
    expect(JSON.parse(opened.toString("utf8")).secretAccessKey).toBe(SECRET_ACCESS_KEY);

    const updated = await api.call("PUT", "/v1/kms/aws-dev", {
      body: {
        provider: "awskms",
        keyCollection: "eu-west-1",
        options: { endpoint: "http://127.0.0.1:4599" },
      },
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ revision: 2, hasCredentials: true });

    const azure = await api.call("PUT", "/v1/kms/azure-dev", {
      body: {
        provider: "azurekeyvault",
        keyCollection: "http://127.0.0.1:4600",
        credentials: { tenantId: "t", clientId: "c", clientSecret: CLIENT_SECRET },
      },
    });
    expect(azure.statusCode).toBe(201);
  });

  it("refuses bad credentials fields (400), plain http to a remote host (422), the wrong role (403)", async () => {
    const wrongCreds = await api.call("PUT", "/v1/kms/x", {
      body: {
        provider: "azurekeyvault",
        keyCollection: "v",
        credentials: { clientSecret: CLIENT_SECRET, extra: 1 },
      },
    });
    expect(wrongCreds.statusCode).toBe(400);
    const insecure = await api.call("PUT", "/v1/kms/x", {
      body: {
        provider: "awskms",
        keyCollection: "eu-west-1",
        options: { endpoint: "http://kms.example.com" },
      },
    });
    expect(insecure.statusCode).toBe(422);
    expect(insecure.json().error.code).toBe("insecure_endpoint");
    const operator = await api.call("PUT", "/v1/kms/x", {
      token: api.tokens.operator,
      body: { provider: "awskms", keyCollection: "eu-west-1" },
    });
    expect(operator.statusCode).toBe(403);
  });

  it("GET lists and reads destinations for every role", async () => {
    const list = await api.call("GET", "/v1/kms", { token: api.tokens.auditor });
    expect(list.json().items.map((k: { name: string }) => k.name)).toEqual(["aws-dev", "azure-dev"]);
    const read = await api.call("GET", "/v1/kms/azure-dev", { token: api.tokens.operator });
    expect(read.json()).toMatchObject({ provider: "azurekeyvault", hasCredentials: true });
    expect((await api.call("GET", "/v1/kms/none")).statusCode).toBe(404);
  });
});

describe("distributions", () => {
  it("refuses what the cloud cannot hold with 422 naming the rule", async () => {
    await activeKey("signer", "ecdsa-p256");
    const refused = await api.call("PUT", "/v1/kms/aws-dev/keys/signer", {
      token: api.tokens.operator,
      body: { purpose: ["encrypt"], protection: "hsm" },
    });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe("unsupported_purposes");
    expect(refused.json().error.message).toContain("elliptic-curve keys");
  });

  it("PUT distributes (202, operation with key and kms), GET reads, DELETE removes", async () => {
    const put = await api.call("PUT", "/v1/kms/aws-dev/keys/signer", {
      token: api.tokens.operator,
      body: { purpose: ["sign", "verify"], protection: "hsm" },
    });
    expect(put.statusCode).toBe(202);
    expect(put.json()).toMatchObject({ type: "distribute", key: "signer", kms: "aws-dev", state: "queued" });
    const pending = await database()
      .db.select()
      .from(ledgerPending)
      .where(eq(ledgerPending.operationId, put.json().id));
    expect(pending[0]).toMatchObject({ keyName: "signer", kmsName: "aws-dev" });

    expect((await api.call("GET", "/v1/kms/aws-dev/keys/signer")).statusCode).toBe(404);
    // The copy is on its way: a second distribute is refused, naming the one making it.
    const duplicate = await api.call("PUT", "/v1/kms/aws-dev/keys/signer", {
      body: { purpose: ["sign", "verify"], protection: "hsm" },
    });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().error).toMatchObject({
      code: "already_distributed",
      details: { operationId: put.json().id },
    });

    // What the engine would write once the copy exists:
    const db = database().db;
    const [key] = await db.select().from(keys).where(eq(keys.name, "signer"));
    const [destination] = await db.select().from(kms).where(eq(kms.name, "aws-dev"));
    if (!key || !destination) throw new Error("setup");
    await db.insert(distributions).values({
      keyId: key.id,
      kmsId: destination.id,
      purposes: ["sign", "verify"],
      protection: "hsm",
      remoteName: "alias/keyferry/signer",
      state: "active",
    });
    const again = await api.call("PUT", "/v1/kms/aws-dev/keys/signer", {
      body: { purpose: ["sign"], protection: "hsm" },
    });
    expect(again.statusCode).toBe(409);
    const read = await api.call("GET", "/v1/kms/aws-dev/keys/signer", { token: api.tokens.auditor });
    expect(read.json()).toMatchObject({
      key: "signer",
      kms: "aws-dev",
      remoteName: "alias/keyferry/signer",
      versions: {},
    });
    expect((await api.call("GET", "/v1/kms/aws-dev/keys")).json().items).toHaveLength(1);
    expect((await api.call("GET", "/v1/keys/signer/kms")).json().items[0].kms).toBe("aws-dev");

    const inUse = await api.call("DELETE", "/v1/kms/aws-dev");
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().error.code).toBe("kms_in_use");

    const remove = await api.call("DELETE", "/v1/kms/aws-dev/keys/signer", { token: api.tokens.operator });
    expect(remove.statusCode).toBe(202);
    expect(remove.json()).toMatchObject({ type: "remove", key: "signer", kms: "aws-dev" });
  });

  it("DELETE /v1/kms/{name} deletes a destination that holds no copies (204)", async () => {
    expect((await api.call("DELETE", "/v1/kms/azure-dev", { token: api.tokens.operator })).statusCode).toBe(
      403,
    );
    expect((await api.call("DELETE", "/v1/kms/azure-dev")).statusCode).toBe(204);
    expect((await api.call("GET", "/v1/kms/azure-dev")).statusCode).toBe(404);
  });
});

describe("offline export", () => {
  const kek = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
    type: "spki",
    format: "pem",
  });

  it("is admin only and only for offlineExport keys", async () => {
    await activeKey("offline", "ecdsa-p256", true);
    const body = { format: "aws", kekPem: kek };
    expect(
      (await api.call("POST", "/v1/keys/offline/export", { token: api.tokens.operator, body })).statusCode,
    ).toBe(403);
    const refused = await api.call("POST", "/v1/keys/signer/export", { body });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe("offline_export_not_allowed");
  });

  it("answers the wrapped blob (aws, azure-byok) and records the KEK fingerprint in the ledger", async () => {
    const aws = await api.call("POST", "/v1/keys/offline/export", { body: { format: "aws", kekPem: kek } });
    expect(aws.statusCode).toBe(200);
    expect(aws.json()).toMatchObject({ format: "aws", version: 1 });
    expect(aws.json().algorithm).toMatch(/SHA_256$/);
    expect(Buffer.from(aws.json().blob, "base64").length).toBeGreaterThanOrEqual(256);
    const azure = await api.call("POST", "/v1/keys/offline/export", {
      body: { format: "azure-byok", kekPem: kek, kekId: "https://v.vault.azure.net/keys/kek/1" },
    });
    expect(azure.statusCode).toBe(200);
    const byok = JSON.parse(Buffer.from(azure.json().blob, "base64").toString("utf8"));
    expect(byok.header).toEqual({
      kid: "https://v.vault.azure.net/keys/kek/1",
      alg: "dir",
      enc: "CKM_RSA_AES_KEY_WRAP",
    });
    const entries = await database()
      .db.select()
      .from(ledgerPending)
      .where(eq(ledgerPending.event, "key.exported"));
    expect(entries).toHaveLength(2);
    expect(entries[0]?.data.kekFingerprint).toBe(aws.json().kekFingerprint);
    const noKid = await api.call("POST", "/v1/keys/offline/export", {
      body: { format: "azure-byok", kekPem: kek },
    });
    expect(noKid.statusCode).toBe(400);
  });
});

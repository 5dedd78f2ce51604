import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient } from "../../src/cli/client/api-client.js";
import { withKeyMaterial } from "../../src/custody/key-versions.js";
import { loadRootKeyRing } from "../../src/custody/root-keys.js";
import { keys, keyVersions } from "../../src/db/schema/index.js";
import { runSeedScenario } from "../../src/demo/seed-scenario.js";
import { createLogger } from "../../src/logger.js";
import { type DevStack, startDevStack } from "../../src/processes/dev-stack.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { dumpRedis } from "../helpers/redis-dump.js";
import { TEST_REDIS_URL } from "../helpers/services.js";

/**
 * The seed scenario of issue 5 end to end: a dev stack of the test's own (API, worker, both emulators) on
 * the test database and a Redis prefix of its own, driven only through the API and the clouds' SDKs. Then a
 * scan of every log line and every Redis value for key material and credentials.
 */
const run = promisify(execFile);
const database = useTestDatabase();
const redis = useTestRedis();
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});

const SECRET_ACCESS_KEY = "kfTestSecretAccessKeyThatMustNeverLeak0001";
let stack: DevStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kf-demo-"));
  stack = await startDevStack({
    dir,
    env: {
      DATABASE_URL: database().url,
      REDIS_URL: TEST_REDIS_URL,
      KEYFERRY_REDIS_PREFIX: redis().prefix,
      LOG_LEVEL: "debug",
    },
    ports: { api: 0, aws: 0, azure: 0 },
    logger: (config) => createLogger({ level: config.logLevel }, logSink),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the seed scenario against a dev stack", () => {
  it("runs: RSA to Azure Key Vault, AES and ECDSA to AWS KMS, with rotation, disabling, removal and redistribution", async () => {
    const client = await createApiClient({ url: stack.apiUrl, token: stack.adminToken });
    const lines: string[] = [];
    await runSeedScenario({
      client,
      awsKms: stack.destinations.aws,
      azureKms: stack.destinations.azure,
      awsEndpoint: stack.aws.url,
      azureVaultUrl: stack.azure.url,
      log: (line) => lines.push(line),
    });
    expect(lines.at(-1)).toBe("demo: every step checked");

    // A destination with real-looking credentials, used once, so that the scan below has a credential to miss.
    await client.request("PUT", "/v1/kms/aws-with-credentials", {
      provider: "awskms",
      keyCollection: "eu-west-1",
      credentials: { accessKeyId: "AKIAKEYFERRYTEST0001", secretAccessKey: SECRET_ACCESS_KEY },
      options: { endpoint: stack.aws.url },
    });
    const shown = await client.request<Record<string, unknown>>("GET", "/v1/kms/aws-with-credentials");
    expect(JSON.stringify(shown)).not.toContain(SECRET_ACCESS_KEY);
  }, 300_000);

  it("is driven the same way from the command line: --json, --wait and exit codes", async () => {
    const cli = (...args: string[]) =>
      run(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "--url", stack.apiUrl, "--token", stack.adminToken, ...args],
        {
          cwd: process.cwd(),
        },
      ).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    const created = await cli("key", "create", "cli-key", "--type", "ecdsa-p256", "--wait", "--json");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ type: "create", state: "succeeded" });
    const distributed = await cli(
      "distribute",
      "cli-key",
      "--to",
      stack.destinations.azure,
      "--purpose",
      "sign,verify",
      "--wait",
      "--json",
    );
    expect(JSON.parse(distributed.stdout)).toMatchObject({ type: "distribute", state: "succeeded" });
    // Disaster recovery from the command line: what Azure holds, mirrored into AWS with the same purposes.
    const mirrored = await cli(
      "redistribute",
      "--from",
      stack.destinations.azure,
      "--to",
      stack.destinations.aws,
      "--keys",
      "cli-key",
      "--wait",
      "--json",
    );
    expect(mirrored.code).toBe(0);
    expect(JSON.parse(mirrored.stdout)).toMatchObject({
      type: "redistribute",
      state: "succeeded",
      progress: { done: 1, failed: 0, total: 1 },
    });
    // A run that does part of its work exits 3: the vault (not a Managed HSM) refuses the AES key.
    expect((await cli("key", "create", "cli-ec", "--type", "ecdsa-p384", "--wait")).code).toBe(0);
    expect((await cli("key", "create", "cli-aes", "--type", "aes256-gcm96", "--wait")).code).toBe(0);
    const partial = await cli(
      "redistribute",
      "--to",
      stack.destinations.azure,
      "--keys",
      "cli-ec,cli-aes",
      "--wait",
      "--json",
    );
    expect(partial.code).toBe(3);
    expect(JSON.parse(partial.stdout)).toMatchObject({
      state: "failed",
      error: { code: "children_failed" },
      progress: { done: 1, failed: 1, total: 2 },
    });
    const listed = JSON.parse((await cli("key", "list", "--json")).stdout) as {
      items: Array<{ name: string }>;
    };
    expect(listed.items.map((k) => k.name)).toContain("cli-key");
    expect(JSON.parse((await cli("ledger", "verify", "--json")).stdout)).toMatchObject({ ok: true });
    // A rule the cloud cannot honour is refused by the API: exit code 4, nothing accepted.
    const refused = await cli(
      "distribute",
      "cli-key",
      "--to",
      stack.destinations.aws,
      "--purpose",
      "encrypt",
    );
    expect(refused.code).toBe(4);
    // The first admin token can be issued straight into the database, and the API accepts it.
    const rootKey = stack.config.rootKey;
    const bootstrap = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "token", "bootstrap", "first-admin", "--json"],
      {
        env: {
          ...process.env,
          DATABASE_URL: stack.config.databaseUrl,
          ...("file" in rootKey
            ? { KEYFERRY_ROOT_KEY_FILE: rootKey.file }
            : { KEYFERRY_ROOT_KEY: rootKey.base64 }),
        },
      },
    );
    const issued = JSON.parse(bootstrap.stdout) as { secret: string; role: string };
    expect(issued.role).toBe("admin");
    const withIssued = await createApiClient({ url: stack.apiUrl, token: issued.secret });
    await expect(withIssued.request("GET", "/v1/tokens")).resolves.toMatchObject({
      items: expect.any(Array),
    });
    const unreachable = await run(process.execPath, [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "--url",
      "http://127.0.0.1:1",
      "key",
      "list",
    ]).catch((error: { code: number }) => error);
    expect((unreachable as { code: number }).code).toBe(5);
  }, 180_000);

  it("left no key material and no credential in Redis or in the logs", async () => {
    const { db } = database();
    const ring = await loadRootKeyRing(stack.config);
    const versions = await db
      .select({ name: keys.name, version: keyVersions.version, publicKey: keyVersions.publicKey })
      .from(keyVersions)
      .innerJoin(keys, eq(keys.id, keyVersions.keyId));
    expect(versions.length).toBeGreaterThan(4);
    const haystacks = { redis: await dumpRedis(redis().redis, redis().prefix), logs: logLines.join("") };
    expect(haystacks.logs.length).toBeGreaterThan(1000);
    for (const [where, text] of Object.entries(haystacks)) {
      expect(text, where).not.toContain(SECRET_ACCESS_KEY);
      for (const { name, version, publicKey } of versions) {
        await withKeyMaterial(db, ring, name, version, (material) => {
          for (let i = 0; i + 16 <= material.length; i += 8) {
            const window = material.subarray(i, i + 16);
            if (publicKey?.includes(window)) continue;
            expect(text.includes(window.toString("hex")), `${where}: ${name} v${version}`).toBe(false);
            expect(
              text.includes(window.toString("base64").slice(0, 20)),
              `${where}: ${name} v${version}`,
            ).toBe(false);
          }
        });
      }
    }
  });
});

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { eq } from "drizzle-orm";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, createApiClient } from "../../src/cli/client/api-client.js";
import { keys, kms } from "../../src/db/schema/index.js";
import { createLogger } from "../../src/logger.js";
import { acceptOperation } from "../../src/operations/intake.js";
import { type DevStack, startDevStack } from "../../src/processes/dev-stack.js";
import { useTestDatabase } from "../helpers/database.js";
import { useTestRedis } from "../helpers/redis.js";
import { TEST_REDIS_URL } from "../helpers/services.js";

/**
 * The dashboard in a real headless Chromium (Debian's, never a downloaded one) against a dev stack of the
 * test's own: sign-in, the matrix, a progress bar that moves, queue counts, the ledger and its
 * verification, failures with a retry for operators only, and @bull-board's job view behind the cookie
 * session (read-only for non-admins). Every wait is for a condition in the page, with generous timeouts.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOT = join("test-results", "dashboard.png");
/** What the page showed when a check in the first test failed. */
const FAILURE_SCREENSHOT = join("test-results", "dashboard-failure.png");
const WAIT = { timeout: 90_000 };
const KEY_COUNT = 6;

const database = useTestDatabase();
const redis = useTestRedis();
const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });

// The page's DOM as far as the functions run in it use it (this program is compiled without the DOM
// library). Functions, not strings: the dashboard's CSP forbids eval, also to Playwright.
interface Bar {
  value: number;
  max: number;
  dataset: Record<string, string | undefined>;
}
declare const document: {
  querySelectorAll(selector: string): Iterable<Bar>;
  querySelector(selector: string): Bar | null;
};

let stack: DevStack;
let dir: string;
let browser: Browser;
let admin: ApiClient;
const tokens = { auditor: "", operator: "" };
const keyNames = Array.from({ length: KEY_COUNT }, (_, i) => `ui-key-${i + 1}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kf-ui-"));
  stack = await startDevStack({
    dir,
    env: { DATABASE_URL: database().url, REDIS_URL: TEST_REDIS_URL, KEYFERRY_REDIS_PREFIX: redis().prefix },
    ports: { api: 0, aws: 0, azure: 0 },
    logger: (config) => createLogger({ level: config.logLevel === "info" ? "warn" : config.logLevel }, quiet),
  });
  admin = await createApiClient({ url: stack.apiUrl, token: stack.adminToken });
  for (const role of ["auditor", "operator"] as const) {
    const issued = await admin.request<{ secret: string }>("POST", "/v1/tokens", {
      role,
      name: `ui-${role}`,
    });
    tokens[role] = issued.secret;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function waitForOperation(client: ApiClient, id: string, state = "succeeded"): Promise<void> {
  const deadline = Date.now() + WAIT.timeout;
  for (;;) {
    const op = await client.request<{ state: string }>("GET", `/v1/operations/${id}`);
    if (op.state === state) return;
    if (["succeeded", "failed", "canceled"].includes(op.state)) {
      throw new Error(`operation ${id} ended ${op.state}, not ${state}`);
    }
    if (Date.now() > deadline) throw new Error(`operation ${id} is still ${op.state}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A browser context that reaches only the stack: any other request is refused and noted in `outside`. */
async function localContext(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; outside: string[] }> {
  const context = await browser.newContext(options);
  const outside: string[] = [];
  await context.route(
    (url) => url.origin !== new URL(stack.apiUrl).origin,
    (route) => {
      outside.push(route.request().url());
      return route.abort();
    },
  );
  return { context, outside };
}

async function signIn(context: BrowserContext, token: string, role: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${stack.apiUrl}/ui`);
  await page.fill("#token", token);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector(`body[data-role="${role}"]`, WAIT);
  await page.waitForSelector("body[data-updated]", WAIT);
  return page;
}

/** The workload: one distribution per key to AWS, then a bulk redistribution of them all to Azure. */
async function startWorkload(operator: ApiClient): Promise<{ singles: string[]; bulk: string }> {
  const singles: string[] = [];
  for (const name of keyNames) {
    const op = await operator.request<{ id: string }>(
      "PUT",
      `/v1/kms/${stack.destinations.aws}/keys/${name}`,
      { purpose: ["sign", "verify"], protection: "hsm" },
    );
    singles.push(op.id);
  }
  const bulk = await operator.request<{ id: string }>("POST", "/v1/redistributions", {
    to: stack.destinations.azure,
    keys: { prefix: "ui-key-" },
    purposes: ["sign", "verify"],
    protection: "hsm",
  });
  return { singles, bulk: bulk.id };
}

describe("the dashboard at /ui in headless Chromium", () => {
  it("shows an auditor the matrix, a moving bulk progress bar, queue counts, the verified ledger and drift", async () => {
    const operator = await createApiClient({ url: stack.apiUrl, token: tokens.operator });
    for (const name of keyNames) {
      const op = await operator.request<{ id: string }>("POST", "/v1/keys", { name, type: "ecdsa-p256" });
      await waitForOperation(operator, op.id);
    }
    // Cloud calls take a while and the bulk run's target takes one call at a time, so that its children
    // finish one after the other and the bar is seen part-way even on a slow, loaded machine.
    stack.aws.faults.configure({ latencyMs: { min: 100, max: 200 } });
    stack.azure.faults.configure({ latencyMs: { min: 200, max: 400 } });
    await admin.request("PUT", `/v1/kms/${stack.destinations.azure}`, {
      provider: "azurekeyvault",
      keyCollection: stack.azure.url,
      options: { concurrency: 1 },
    });

    const { context, outside } = await localContext({ viewport: { width: 1400, height: 1100 } });
    const page = await signIn(context, tokens.auditor, "auditor");
    try {
      const cell = `#matrix td[data-key="ui-key-1"][data-kms="${stack.destinations.aws}"]`;
      expect(await page.getAttribute(cell, "data-state")).toBe("none");
      const workload = await startWorkload(operator);

      // The bulk operation's bar part-way, read once; then it must show more.
      const first = await page.waitForFunction(
        (id) => {
          const bar = document.querySelector(
            `#operations progress[data-operation-id="${id}"][data-kind="bulk"]`,
          );
          return bar !== null && bar.max > 0 && bar.value < bar.max ? bar.value : null;
        },
        workload.bulk,
        WAIT,
      );
      const before = (await first.jsonValue()) as number;
      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      await page.waitForFunction(
        ({ id, value }) => {
          const bar = document.querySelector(`#operations progress[data-operation-id="${id}"]`);
          return bar !== null && bar.value > value;
        },
        { id: workload.bulk, value: before },
        WAIT,
      );

      // The copies arrive in the matrix with their state and version.
      await page.waitForSelector(
        `#matrix td[data-key="ui-key-1"][data-kms="${stack.destinations.aws}"][data-state="active"][data-version="1"]`,
        WAIT,
      );
      // Queue counts, the ledger's newest entries and the cached chain verification render.
      await page.waitForSelector("#queues [data-queue='operations'] [data-state='completed']", WAIT);
      const completed = Number(await page.getAttribute("#queues [data-state='completed']", "data-count"));
      expect(completed).toBeGreaterThan(0);
      expect(await page.locator("#ledger tr[data-seq]").count()).toBeGreaterThan(5);
      await page.waitForSelector("#verification[data-ok='true']", WAIT);
      expect(await page.textContent("#counts [data-count='keys'] dd")).toBe(String(KEY_COUNT));
      for (const id of [...workload.singles, workload.bulk]) await waitForOperation(operator, id);
      await page.waitForSelector(
        `#matrix td[data-key="ui-key-${KEY_COUNT}"][data-kms="${stack.destinations.azure}"][data-state="active"]`,
        WAIT,
      );

      // A drift check of one destination shows in the drift panel (nothing drifted here).
      const reconcile = await operator.request<{ id: string }>(
        "POST",
        `/v1/kms/${stack.destinations.aws}/reconcile`,
        {},
      );
      await waitForOperation(operator, reconcile.id);
      await page.waitForSelector(`#drift [data-kms="${stack.destinations.aws}"]`, WAIT);
      // Everything the dashboard loaded came from the server itself.
      expect(outside).toEqual([]);
    } catch (error) {
      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true }).catch(() => {});
      throw error;
    } finally {
      await context.close();
    }
  }, 300_000);

  it("offers retry of a failure to operators only", async () => {
    // A combination AWS refuses, accepted behind the API's back so that it fails in the worker.
    const { db } = database();
    const [key] = await db.select().from(keys).where(eq(keys.name, "ui-key-2"));
    const [aws] = await db.select().from(kms).where(eq(kms.name, stack.destinations.aws));
    if (!key || !aws) throw new Error("fixtures missing");
    const failing = await db.transaction((tx) =>
      acceptOperation(tx, {
        type: "distribute",
        keyId: key.id,
        kmsId: aws.id,
        input: { purposes: ["encrypt"], protection: "hsm" },
        actor: "test",
        keyName: key.name,
        kmsName: aws.name,
      }),
    );
    await waitForOperation(admin, failing.id, "failed");

    const { context: auditorContext } = await localContext();
    const auditor = await signIn(auditorContext, tokens.auditor, "auditor");
    await auditor.waitForSelector(`#failures li[data-operation-id="${failing.id}"]`, WAIT);
    expect(await auditor.locator("#failures button.retry").count()).toBe(0);
    await auditorContext.close();

    const { context: operatorContext } = await localContext();
    const operator = await signIn(operatorContext, tokens.operator, "operator");
    const retry = operator.locator(`#failures button.retry[data-operation-id="${failing.id}"]`);
    await retry.waitFor(WAIT);
    await operator.screenshot({ path: join("test-results", "dashboard-operator.png"), fullPage: true });
    await retry.click();
    await operator.waitForSelector("#status:has-text('accepted')", WAIT);
    await expect
      .poll(async () => {
        const entries = await admin.request<{ items: Array<{ event: string }> }>(
          "GET",
          `/v1/ledger?operation=${failing.id}`,
        );
        return entries.items.map((e) => e.event);
      }, WAIT)
      .toContain("operation.retried");
    await operatorContext.close();
  }, 180_000);

  it("serves @bull-board's job view to the cookie session: read-only for non-admins, full for admins", async () => {
    const { context: anonymous } = await localContext();
    const refused = await anonymous.request.get(`${stack.apiUrl}/ui/queues/api/queues`);
    expect(refused.status()).toBe(401);
    await anonymous.close();

    // bull-board's page links a web font from the internet: refused here, as it would be offline.
    const { context } = await localContext();
    const page = await signIn(context, tokens.auditor, "auditor");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "kf_ui_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/ui" });
    expect(session?.value).not.toContain(tokens.auditor);
    await page.click("#jobs-link");
    await page.waitForSelector("text=operations", WAIT);
    const queues = await context.request.get(`${stack.apiUrl}/ui/queues/api/queues`);
    expect(queues.status()).toBe(200);
    const body = (await queues.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(body.queues).toEqual([expect.objectContaining({ name: "operations", readOnlyMode: true })]);
    const pause = await context.request.put(`${stack.apiUrl}/ui/queues/api/queues/operations/pause`);
    expect(pause.status()).toBe(405);
    const adminBoard = await context.request.get(`${stack.apiUrl}/ui/queues-admin/api/queues`);
    expect(adminBoard.status()).toBe(403);
    // Signing out ends the cookie session.
    await page.goto(`${stack.apiUrl}/ui`);
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in:not([hidden])", WAIT);
    expect((await context.request.get(`${stack.apiUrl}/ui/queues/api/queues`)).status()).toBe(401);
    await context.close();

    const { context: adminContext } = await localContext();
    await signIn(adminContext, stack.adminToken, "admin");
    const full = await adminContext.request.get(`${stack.apiUrl}/ui/queues-admin/api/queues`);
    expect(full.status()).toBe(200);
    const fullBody = (await full.json()) as { queues: Array<{ readOnlyMode: boolean }> };
    expect(fullBody.queues[0]?.readOnlyMode).toBe(false);
    await adminContext.close();
  }, 120_000);
});

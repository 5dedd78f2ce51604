import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzureKeyVaultEmulator } from "../../../src/emulators/azure-key-vault/index.js";
import type { RunningEmulator } from "../../../src/emulators/common/options.js";
import { InvalidInputError } from "../../../src/errors/invalid-input-error.js";
import { isNotFound, toProviderError } from "../../../src/providers/azure-key-vault/errors.js";
import { ProviderError } from "../../../src/providers/provider-error.js";
import { rejection, vaultClient } from "./helpers.js";

/**
 * The mapping of Azure failures onto ProviderError, by status, Key Vault's codes and network codes. The
 * shapes mirror what @azure/keyvault-keys throws (RestError: `statusCode`, `code`, `details.error.innerError`,
 * `response.headers`); the last tests take real errors from the SDK talking to the emulator.
 */

function restError(
  statusCode: number | undefined,
  code: string | undefined,
  options: { inner?: string; headers?: Record<string, string>; message?: string } = {},
): Error {
  const error = new Error(options.message ?? "service message") as Error & Record<string, unknown>;
  error.name = "RestError";
  error.statusCode = statusCode;
  error.code = code;
  if (statusCode !== undefined) {
    error.details = {
      error: { code, message: "m", ...(options.inner ? { innerError: { code: options.inner } } : {}) },
    };
  }
  const headers = new Map(Object.entries(options.headers ?? {}));
  error.response = { headers: { get: (name: string) => headers.get(name) } };
  return error;
}

function mapped(error: unknown, nowMs = 0): ProviderError {
  const result = toProviderError(error, "importKey", { nowMs });
  expect(result).toBeInstanceOf(ProviderError);
  return result as ProviderError;
}

describe("Azure error mapping", () => {
  it("429 is throttled with Retry-After in seconds, as an HTTP date, or in milliseconds", () => {
    expect(mapped(restError(429, "Throttled", { headers: { "retry-after": "7" } }))).toMatchObject({
      kind: "throttled",
      retryAfterMs: 7000,
      remoteCode: "Throttled",
    });
    const now = Date.parse("2026-01-01T00:00:00Z");
    const dated = restError(429, "Throttled", {
      headers: { "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" },
    });
    expect(mapped(dated, now).retryAfterMs).toBe(3000);
    const ms = restError(429, "Throttled", { headers: { "retry-after-ms": "250", "retry-after": "1" } });
    expect(mapped(ms).retryAfterMs).toBe(250);
    const none = mapped(restError(429, "Throttled"));
    expect(none.kind).toBe("throttled");
    expect(none.retryAfterMs).toBeUndefined();
  });

  it.each([
    [408, "RequestTimeout"],
    [500, "InternalServerError"],
    [502, "BadGateway"],
    [503, "ServiceUnavailable"],
    [504, "GatewayTimeout"],
  ])("%i %s is transient", (status, code) => {
    expect(mapped(restError(status, code))).toMatchObject({
      kind: "transient",
      remoteCode: code,
      retryable: true,
    });
  });

  it.each(["REQUEST_SEND_ERROR", "ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN"])(
    "a connection failure %s is transient",
    (code) => {
      expect(mapped(restError(undefined, code))).toMatchObject({ kind: "transient", remoteCode: code });
    },
  );

  it("a vault host that does not resolve (ENOTFOUND) is permanent: retrying cannot fix a wrong name", () => {
    expect(mapped(restError(undefined, "ENOTFOUND")).kind).toBe("permanent");
  });

  it("409 while a purge or delete is in progress is transient; a soft-deleted name is permanent", () => {
    expect(mapped(restError(409, "Conflict", { inner: "ObjectIsBeingDeleted" }))).toMatchObject({
      kind: "transient",
      remoteCode: "ObjectIsBeingDeleted",
    });
    expect(mapped(restError(409, "Conflict", { inner: "ObjectIsDeletedButRecoverable" }))).toMatchObject({
      kind: "permanent",
      remoteCode: "ObjectIsDeletedButRecoverable",
    });
  });

  it.each([
    [400, "BadParameter", undefined, "BadParameter"],
    [401, "Unauthorized", undefined, "Unauthorized"],
    [403, "Forbidden", "KeyDisabled", "KeyDisabled"],
    [403, "Forbidden", "ForbiddenByPolicy", "ForbiddenByPolicy"],
    [404, "KeyNotFound", undefined, "KeyNotFound"],
  ])("%i %s/%s is permanent, remote code %s", (status, code, inner, remoteCode) => {
    const error = mapped(restError(status, code, inner ? { inner } : {}));
    expect(error).toMatchObject({ kind: "permanent", remoteCode, retryable: false });
    expect(error.details?.httpStatus).toBe(status);
  });

  it("reads codes, never message text", () => {
    const misleading = restError(400, "BadParameter", {
      message: "throttled: too many requests, retry later",
    });
    expect(mapped(misleading).kind).toBe("permanent");
  });

  it("credential failures from @azure/identity are permanent", () => {
    for (const name of ["CredentialUnavailableError", "AuthenticationError"]) {
      const error = Object.assign(new Error("no credential"), { name });
      expect(mapped(error)).toMatchObject({ kind: "permanent", remoteCode: name });
    }
  });

  it("a request timeout is transient, the caller's own abort is not mapped", () => {
    const abort = Object.assign(new Error("aborted"), { name: "AbortError" });
    expect(mapped(abort)).toMatchObject({ kind: "transient", remoteCode: "RequestTimeout" });
    expect(toProviderError(abort, "getKey", { aborted: true })).toBe(abort);
  });

  it("keyferry's own errors and unrelated errors pass unchanged", () => {
    const ours = new InvalidInputError("unsupported_purposes", "no");
    expect(toProviderError(ours, "x")).toBe(ours);
    const bug = new TypeError("undefined is not a function");
    expect(toProviderError(bug, "x")).toBe(bug);
  });

  describe("real SDK errors from the emulator", () => {
    let emulator: RunningEmulator;
    beforeAll(async () => {
      emulator = await startAzureKeyVaultEmulator();
    });
    afterAll(async () => {
      await emulator?.close();
    });

    it("maps KeyNotFound, KeyDisabled, a soft-deleted name and an injected throttle", async () => {
      const vault = vaultClient(emulator.url);
      const missing = mapped(await rejection(vault.getKey("missing")));
      expect(missing).toMatchObject({ kind: "permanent", remoteCode: "KeyNotFound" });
      expect(isNotFound(missing)).toBe(true);

      const key = await vault.createEcKey("disabled", { enabled: false });
      const disabled = await rejection(vault.getKey("disabled", { version: key.properties.version ?? "" }));
      expect(mapped(disabled)).toMatchObject({ kind: "permanent", remoteCode: "KeyDisabled" });

      await vault.beginDeleteKey("disabled");
      const recoverable = await rejection(vault.createEcKey("disabled"));
      expect(mapped(recoverable)).toMatchObject({
        kind: "permanent",
        remoteCode: "ObjectIsDeletedButRecoverable",
      });

      emulator.faults.throttleNext(1, { retryAfterMs: 2500 });
      expect(mapped(await rejection(vault.getKey("missing")))).toMatchObject({
        kind: "throttled",
        retryAfterMs: 3000,
      });

      emulator.faults.failAfterCommitNext(1, { operation: "createKey", mode: "drop" });
      expect(mapped(await rejection(vault.createEcKey("dropped")))).toMatchObject({
        kind: "transient",
        remoteCode: "ECONNRESET",
      });
    });
  });
});

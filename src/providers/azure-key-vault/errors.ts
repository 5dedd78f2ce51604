import { KeyferryError } from "../../errors/keyferry-error.js";
import { ProviderError, type ProviderErrorKind } from "../provider-error.js";

/**
 * The one place where Azure's failures become keyferry's ProviderError (SPEC section 6). Decisions read the
 * HTTP status, Key Vault's error code and inner error code, Node's network error codes and the class names
 * of @azure/identity's errors — never message text, which Microsoft localises and rewords.
 */

/** What the SDK's RestError (and @azure/identity's errors) carry that matters here. */
interface AzureErrorShape {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  details?: { error?: { code?: unknown; innerError?: { code?: unknown } } };
  response?: { headers?: { get?(name: string): string | undefined } };
}

/** Key Vault's inner error code for a name that is soft-deleted: recover or purge it before reuse. */
export const DELETED_BUT_RECOVERABLE = "ObjectIsDeletedButRecoverable";

/** Connection-level failures: the request may or may not have reached the vault, so trying again is right. */
const TRANSIENT_NETWORK_CODES = new Set([
  "REQUEST_SEND_ERROR",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * ENOTFOUND is a name that does not resolve: almost always a mistyped vault name, which retrying cannot fix
 * (temporary resolver failures are EAI_AGAIN, retried above).
 */
const PERMANENT_NETWORK_CODES = new Set(["ENOTFOUND"]);

/** @azure/identity's errors: a credential that cannot work, whatever we retry. */
const CREDENTIAL_ERROR_NAMES = new Set([
  "CredentialUnavailableError",
  "AuthenticationError",
  "AuthenticationRequiredError",
  "AggregateAuthenticationError",
]);

export interface AzureErrorFacts {
  status: number | undefined;
  code: string | undefined;
  innerCode: string | undefined;
}

/** The status and codes of an Azure error, or undefined for anything that is not one. */
export function azureErrorFacts(error: unknown): AzureErrorFacts | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const shape = error as AzureErrorShape;
  if (shape.name !== "RestError") return undefined;
  const status = typeof shape.statusCode === "number" ? shape.statusCode : undefined;
  const outer = shape.details?.error?.code ?? shape.code;
  const inner = shape.details?.error?.innerError?.code;
  return {
    status,
    code: typeof outer === "string" ? outer : undefined,
    innerCode: typeof inner === "string" ? inner : undefined,
  };
}

/** Whether a failed call answered 404 (no such key, version or deleted key). */
export function isNotFound(error: unknown): boolean {
  return (error instanceof ProviderError && error.details?.httpStatus === 404) || statusOf(error) === 404;
}

/** Whether the name is soft-deleted (409 with ObjectIsDeletedButRecoverable). */
export function isDeletedButRecoverable(error: unknown): boolean {
  return remoteCodeOf(error) === DELETED_BUT_RECOVERABLE;
}

/**
 * Map anything a call to Azure threw. KeyferryErrors (ours) pass unchanged; Azure and credential errors and
 * request timeouts become ProviderErrors; anything else (the caller's abort, a programming error) is returned
 * as it is, for the caller to rethrow.
 */
export function toProviderError(
  error: unknown,
  operation: string,
  options: { nowMs?: number; aborted?: boolean } = {},
): unknown {
  if (error instanceof KeyferryError) return error;
  if (typeof error !== "object" || error === null) return error;
  const shape = error as AzureErrorShape;
  // The SDK ends a request that outlived its timeout with an AbortError, as it does for the caller's own
  // abort; only the latter must stop everything.
  if (shape.name === "AbortError") {
    return options.aborted ? error : make("transient", "RequestTimeout", operation, error);
  }
  if (typeof shape.name === "string" && CREDENTIAL_ERROR_NAMES.has(shape.name)) {
    return make("permanent", shape.name, operation, error, { status: 401 });
  }
  const facts = azureErrorFacts(error);
  if (!facts) return error;
  const remoteCode = facts.innerCode ?? facts.code ?? (facts.status ? `HTTP ${facts.status}` : "RestError");
  const { status } = facts;

  if (status === undefined) {
    const code = facts.code ?? "";
    if (TRANSIENT_NETWORK_CODES.has(code)) return make("transient", remoteCode, operation, error);
    if (PERMANENT_NETWORK_CODES.has(code)) return make("permanent", remoteCode, operation, error);
    // A RestError without status and without a known network code (PARSE_ERROR, an unreadable answer):
    // the request may have been served, so it is treated like a dropped connection.
    return make("transient", remoteCode, operation, error);
  }
  if (status === 429) {
    return make("throttled", remoteCode, operation, error, {
      retryAfterMs: retryAfterMs(shape, options.nowMs ?? Date.now()),
    });
  }
  if (status === 408 || status >= 500) return make("transient", remoteCode, operation, error, { status });
  // A soft-deleted name needs a decision (recover or purge); any other conflict is a delete, purge or
  // recovery still in progress (ObjectIsBeingDeleted, ...), which settles by itself.
  if (status === 409 && facts.innerCode !== DELETED_BUT_RECOVERABLE) {
    return make("transient", remoteCode, operation, error, { status });
  }
  // 400 BadParameter, 401, 403 Forbidden/KeyDisabled/ForbiddenByPolicy, 404 KeyNotFound, 409 recoverable.
  return make("permanent", remoteCode, operation, error, { status });
}

/** The remote code a mapped or unmapped Azure error carries (inner code first). */
export function remoteCodeOf(error: unknown): string | undefined {
  if (error instanceof ProviderError) return error.remoteCode;
  const facts = azureErrorFacts(error);
  return facts?.innerCode ?? facts?.code;
}

function statusOf(error: unknown): number | undefined {
  return azureErrorFacts(error)?.status;
}

/**
 * Milliseconds from `Retry-After` (delta seconds or an HTTP date), preferring the millisecond headers some
 * Azure front ends send. Undefined when the answer names no delay: the retry's own backoff applies then.
 */
export function retryAfterMs(error: AzureErrorShape, nowMs: number): number | undefined {
  const get = error.response?.headers?.get?.bind(error.response.headers);
  if (!get) return undefined;
  for (const header of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = Number(get(header));
    if (get(header) !== undefined && Number.isFinite(value) && value >= 0) return value;
  }
  const text = get("retry-after")?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * Requests that carry key material (a .byok file, a JWK): the service's message is left out of the
 * ProviderError (it reaches logs and API answers), in case a validation message echoes an input.
 */
const QUIET_OPERATIONS: ReadonlySet<string> = new Set(["importKey"]);

function make(
  kind: ProviderErrorKind,
  remoteCode: string,
  operation: string,
  cause: unknown,
  options: { status?: number; retryAfterMs?: number | undefined } = {},
): ProviderError {
  const shape = cause as AzureErrorShape;
  const said =
    QUIET_OPERATIONS.has(operation) || typeof shape.message !== "string" ? "" : `: ${shape.message}`;
  const error = new ProviderError(
    kind,
    remoteCode,
    `Azure Key Vault ${operation} failed (${remoteCode})${said}`,
    {
      cause,
      ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
    },
  );
  // Azure's HTTP status is kept beside the remote code (callers ask "was it a 404?"); `status` itself is the
  // one keyferry's API would answer, so it is not the place for it.
  if (options.status !== undefined && error.details) error.details.httpStatus = options.status;
  return error;
}

import { ProviderError, type ProviderErrorKind } from "../provider-error.js";

/**
 * The one place where AWS SDK failures become ProviderErrors: by the error's name (the service's `__type`),
 * then its HTTP status, then Node's network error `code` — never by message text, which AWS may reword.
 * ThrottlingException carries no delay in its body; `x-amz-retry-after` (milliseconds, which the SDK's own
 * retry strategy also honours, and which the emulator sends) or `Retry-After` is read when present, and a
 * backoff applies otherwise.
 */

const THROTTLED = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
]);

const TRANSIENT = new Set([
  "KMSInternalException",
  "DependencyTimeoutException",
  // "The request was rejected because the specified KMS key was not available. You can retry the request."
  "KeyUnavailableException",
  // A rotation of the key is in progress: the same request later succeeds.
  "ConflictException",
  "InternalFailure",
  "InternalServerError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  // keyferry's own cancellation (shutdown, operation cancelled): the step is released and resumed later.
  "AbortError",
]);

/** Known refusals, listed so that the classification does not depend on an HTTP status being present. */
const PERMANENT = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "MissingAuthenticationTokenException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "CredentialsProviderError",
  "NotFoundException",
  "ValidationException",
  "SerializationException",
  "UnknownOperationException",
  "UnsupportedOperationException",
  "KMSInvalidStateException",
  "LimitExceededException",
  "AlreadyExistsException",
  "IncorrectKeyMaterialException",
  "InvalidImportTokenException",
  "ExpiredImportTokenException",
  "InvalidCiphertextException",
  "IncorrectKeyException",
  "InvalidKeyUsageException",
  "DisabledException",
  "InvalidArnException",
  "InvalidAliasNameException",
  "InvalidMarkerException",
  "InvalidGrantTokenException",
  "MalformedPolicyDocumentException",
  "TagException",
  "DryRunOperationException",
]);

/** Socket-level failures by `code`: the request may or may not have reached KMS. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Operations whose requests carry wrapped material or import tokens: the service's message is left out
 * of ProviderError (it reaches logs and API answers), in case a validation message echoes an input.
 */
const QUIET_OPERATIONS = new Set(["ImportKeyMaterial", "GetParametersForImport"]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: { throttling?: unknown };
  $response?: { headers?: Record<string, string | undefined> };
}

/** The ProviderError for an SDK or network failure of `operation` (a ProviderError passes through). */
export function classifyAwsError(error: unknown, operation: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const shape = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  const name = typeof shape.name === "string" ? shape.name : "Error";
  const code = typeof shape.code === "string" ? shape.code : undefined;
  const status =
    typeof shape.$metadata?.httpStatusCode === "number" ? shape.$metadata.httpStatusCode : undefined;
  const kind = kindOf(name, code, status, shape.$retryable?.throttling === true);
  const remoteCode = code !== undefined && NETWORK_CODES.has(code) ? code : name;
  const said =
    QUIET_OPERATIONS.has(operation) || typeof shape.message !== "string" ? "" : `: ${shape.message}`;
  const where = status === undefined ? "" : ` (HTTP ${status})`;
  return new ProviderError(
    kind,
    remoteCode,
    `AWS KMS ${operation} failed with ${remoteCode}${where}${said}`,
    {
      cause: error,
      ...(kind === "throttled" ? retryAfterOf(shape) : {}),
    },
  );
}

function kindOf(
  name: string,
  code: string | undefined,
  status: number | undefined,
  throttling: boolean,
): ProviderErrorKind {
  if (THROTTLED.has(name) || status === 429 || throttling) return "throttled";
  if (TRANSIENT.has(name)) return "transient";
  if (PERMANENT.has(name)) return "permanent";
  if (status !== undefined && status >= 500) return "transient";
  if (code !== undefined && NETWORK_CODES.has(code)) return "transient";
  // Unknown 4xx answers and errors without any of the three (a bug, a refused configuration): fail loudly.
  return "permanent";
}

function retryAfterOf(shape: SdkErrorShape): { retryAfterMs?: number } {
  const headers = Object.fromEntries(
    Object.entries(shape.$response?.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  // Retry-After may also be an HTTP date; that form is left to the backoff.
  const ms = delayOf(headers["x-amz-retry-after"], 1) ?? delayOf(headers["retry-after"], 1000);
  return ms === undefined ? {} : { retryAfterMs: ms };
}

function delayOf(value: string | undefined, unitMs: number): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const amount = Number(value);
  return Number.isFinite(amount) && amount >= 0 ? Math.ceil(amount * unitMs) : undefined;
}

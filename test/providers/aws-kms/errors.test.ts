import {
  DependencyTimeoutException,
  IncorrectKeyMaterialException,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  LimitExceededException,
  NotFoundException,
  UnsupportedOperationException,
} from "@aws-sdk/client-kms";
import { describe, expect, it } from "vitest";
import { classifyAwsError } from "../../../src/providers/aws-kms/errors.js";
import { ProviderError } from "../../../src/providers/provider-error.js";

/**
 * The error mapping, on errors shaped as @aws-sdk/client-kms 3.1164 surfaces them (recorded against the
 * emulator: modeled exceptions are their own classes; ThrottlingException, which KMS does not model, is a
 * KMSServiceException named by the `__type`; a dropped connection is a TimeoutError with code ECONNRESET).
 */

const metadata = (httpStatusCode: number | undefined) => ({ $metadata: { httpStatusCode }, message: "m" });

/** An unmodeled service error, as the SDK builds it from `__type` and the HTTP answer. */
function serviceError(name: string, status: number, headers: Record<string, string> = {}) {
  const error = new KMSServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    ...metadata(status),
  });
  error.$response = { statusCode: status, headers, body: undefined } as never;
  return error;
}

const networkError = (code: string, name = "Error") =>
  Object.assign(new Error("socket failure"), { code, name });

describe("AWS KMS error mapping", () => {
  const cases: Array<[string, unknown, ProviderError["kind"], string]> = [
    ["ThrottlingException", serviceError("ThrottlingException", 400), "throttled", "ThrottlingException"],
    ["HTTP 429 of any name", serviceError("SlowDown", 429), "throttled", "SlowDown"],
    ["KMSInternalException", new KMSInternalException(metadata(500)), "transient", "KMSInternalException"],
    [
      "DependencyTimeoutException",
      new DependencyTimeoutException(metadata(503)),
      "transient",
      "DependencyTimeoutException",
    ],
    ["an unknown 5xx", serviceError("BadGateway", 502), "transient", "BadGateway"],
    ["a dropped connection", networkError("ECONNRESET", "TimeoutError"), "transient", "ECONNRESET"],
    ["EPIPE", networkError("EPIPE"), "transient", "EPIPE"],
    ["a refused connection", networkError("ECONNREFUSED"), "transient", "ECONNREFUSED"],
    [
      "a request timeout",
      Object.assign(new Error("timed out"), { name: "TimeoutError" }),
      "transient",
      "TimeoutError",
    ],
    [
      "AccessDeniedException",
      serviceError("AccessDeniedException", 400),
      "permanent",
      "AccessDeniedException",
    ],
    [
      "UnrecognizedClientException",
      serviceError("UnrecognizedClientException", 400),
      "permanent",
      "UnrecognizedClientException",
    ],
    [
      "InvalidSignatureException",
      serviceError("InvalidSignatureException", 400),
      "permanent",
      "InvalidSignatureException",
    ],
    ["NotFoundException", new NotFoundException(metadata(400)), "permanent", "NotFoundException"],
    ["ValidationException", serviceError("ValidationException", 400), "permanent", "ValidationException"],
    [
      "UnsupportedOperationException",
      new UnsupportedOperationException(metadata(400)),
      "permanent",
      "UnsupportedOperationException",
    ],
    [
      "KMSInvalidStateException",
      new KMSInvalidStateException(metadata(400)),
      "permanent",
      "KMSInvalidStateException",
    ],
    [
      "LimitExceededException",
      new LimitExceededException(metadata(400)),
      "permanent",
      "LimitExceededException",
    ],
    [
      "IncorrectKeyMaterialException",
      new IncorrectKeyMaterialException(metadata(400)),
      "permanent",
      "IncorrectKeyMaterialException",
    ],
    [
      "missing credentials",
      Object.assign(new Error("no creds"), { name: "CredentialsProviderError" }),
      "permanent",
      "CredentialsProviderError",
    ],
    ["something unknown", new TypeError("a bug"), "permanent", "TypeError"],
  ];

  for (const [label, error, kind, remoteCode] of cases) {
    it(`maps ${label} to ${kind}`, () => {
      const mapped = classifyAwsError(error, "CreateKey");
      expect(mapped).toBeInstanceOf(ProviderError);
      expect(mapped).toMatchObject({ kind, remoteCode, retryable: kind !== "permanent" });
      expect(mapped.cause).toBe(error);
    });
  }

  it("never reads the message: a throttling-sounding message of a permanent error stays permanent", () => {
    const error = serviceError("AccessDeniedException", 400);
    error.message = "Rate exceeded; throttling, try again";
    expect(classifyAwsError(error, "CreateKey").kind).toBe("permanent");
    const throttled = serviceError("ThrottlingException", 400);
    throttled.message = "access denied";
    expect(classifyAwsError(throttled, "CreateKey").kind).toBe("throttled");
  });

  it("takes the delay from x-amz-retry-after (ms) or Retry-After (s), and none when AWS names none", () => {
    expect(
      classifyAwsError(serviceError("ThrottlingException", 400, { "x-amz-retry-after": "250" }), "X")
        .retryAfterMs,
    ).toBe(250);
    expect(
      classifyAwsError(serviceError("ThrottlingException", 400, { "Retry-After": "2" }), "X").retryAfterMs,
    ).toBe(2000);
    expect(classifyAwsError(serviceError("ThrottlingException", 400), "X").retryAfterMs).toBeUndefined();
  });

  it("keeps the service's message out of errors of calls that carry import tokens or wrapped material", () => {
    const error = serviceError("ValidationException", 400);
    error.message = "Value 'c2VjcmV0' at 'importToken' failed to satisfy constraint";
    expect(classifyAwsError(error, "ImportKeyMaterial").message).not.toContain("c2VjcmV0");
    expect(classifyAwsError(error, "GetParametersForImport").message).not.toContain("c2VjcmV0");
    expect(classifyAwsError(error, "CreateAlias").message).toContain("importToken");
  });

  it("passes a ProviderError through unchanged", () => {
    const provider = new ProviderError("transient", "RotationInProgress", "later");
    expect(classifyAwsError(provider, "RotateKeyOnDemand")).toBe(provider);
  });
});

/**
 * AWS KMS errors as the service answers them: HTTP 400 (500 for server faults) with
 * `{"__type": "<ExceptionName>", "message": "..."}`. The SDK turns `__type` into the error's `name`, so the
 * names here must be the real exception names (node_modules/@aws-sdk/client-kms/dist-types/models/errors.d.ts,
 * plus the protocol-level ones every AWS JSON service shares: ValidationException, SerializationException,
 * ThrottlingException, UnknownOperationException, MissingAuthenticationTokenException, NotAuthorizedException).
 *
 * Messages reach the caller and the logs: they may name keys, aliases and parameters, never material,
 * tokens or ciphertexts.
 */
export class KmsError extends Error {
  override name = "KmsError";

  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    /** For throttling answers: how long the caller should wait, sent as `x-amz-retry-after`. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  toBody(): { __type: string; message: string } {
    return { __type: this.type, message: this.message };
  }
}

const error = (type: string) => (message: string) => new KmsError(type, message);

export const notFound = error("NotFoundException");
export const invalidState = error("KMSInvalidStateException");
export const disabled = error("DisabledException");
export const validation = error("ValidationException");
export const serialization = error("SerializationException");
export const unsupported = error("UnsupportedOperationException");
export const alreadyExists = error("AlreadyExistsException");
export const notAuthorized = error("NotAuthorizedException");
export const invalidAliasName = error("InvalidAliasNameException");
export const invalidKeyUsage = error("InvalidKeyUsageException");
export const invalidCiphertext = error("InvalidCiphertextException");
export const incorrectKey = error("IncorrectKeyException");
export const incorrectKeyMaterial = error("IncorrectKeyMaterialException");
export const invalidImportToken = error("InvalidImportTokenException");
export const expiredImportToken = error("ExpiredImportTokenException");
export const invalidMarker = error("InvalidMarkerException");
export const limitExceeded = error("LimitExceededException");
export const tagError = error("TagException");
export const unknownOperation = error("UnknownOperationException");
export const missingAuthentication = error("MissingAuthenticationTokenException");
export const incompleteSignature = error("IncompleteSignatureException");

/** Verify's answer to a signature that does not verify; the real service sends an empty message. */
export const invalidSignature = () => new KmsError("KMSInvalidSignatureException", "");

export const internalError = () =>
  new KmsError(
    "KMSInternalException",
    "The request was rejected because an internal exception occurred.",
    500,
  );

/** The wording of the real service's throttling answer (developer guide, "Request quotas"). */
export const throttled = (retryAfterMs: number) =>
  new KmsError(
    "ThrottlingException",
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
    400,
    retryAfterMs,
  );

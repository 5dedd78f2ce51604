import { KeyferryError } from "../../errors/keyferry-error.js";

/**
 * An error as Key Vault puts it on the wire: `{"error":{"code","message","innererror":{"code"}}}` with an
 * HTTP status. The SDK turns it into a RestError whose `code` is the outer code and whose
 * `details.error.innerError.code` is the inner one, so both are kept exactly as the service spells them.
 * Messages follow the service's wording where it is known and never carry key material.
 */
export class KeyVaultError extends KeyferryError {
  override name = "KeyVaultError";
  readonly innerCode: string | undefined;
  /** Seconds for the `Retry-After` header of a 429 or 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { innerCode?: string; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, { status, retryable: status === 429 || status >= 500 });
    this.innerCode = options.innerCode;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}),
      },
    };
  }
}

const RECOVERY_HINT =
  "If you recently deleted this key you may be able to recover it using the correct recovery command. " +
  "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182";

export function keyNotFound(name: string, version?: string): KeyVaultError {
  const id = version ? `${name}/${version}` : name;
  return new KeyVaultError(
    404,
    "KeyNotFound",
    `A key with (name/id) ${id} was not found in this key vault. ${RECOVERY_HINT}`,
  );
}

export function deletedKeyNotFound(name: string): KeyVaultError {
  return new KeyVaultError(404, "KeyNotFound", `Deleted Key not found: ${name}`);
}

export function deletedButRecoverable(name: string): KeyVaultError {
  return new KeyVaultError(
    409,
    "Conflict",
    `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; ` +
      "in this state, the key can only be recovered or purged.",
    { innerCode: "ObjectIsDeletedButRecoverable" },
  );
}

/** The real purge is asynchronous: for a while after it is accepted, the name can be neither used nor seen. */
export function beingDeleted(name: string): KeyVaultError {
  return new KeyVaultError(409, "Conflict", `Key ${name} is currently being deleted.`, {
    innerCode: "ObjectIsBeingDeleted",
  });
}

export function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", message);
}

export function keyDisabled(operation: string): KeyVaultError {
  return new KeyVaultError(403, "Forbidden", `Operation ${operation} is not allowed on a disabled key.`, {
    innerCode: "KeyDisabled",
  });
}

export function operationNotPermitted(operation: string): KeyVaultError {
  return new KeyVaultError(403, "Forbidden", `Operation ${operation} is not permitted on this key.`, {
    innerCode: "KeyOperationForbidden",
  });
}

export function outsideValidity(operation: string, reason: "KeyNotYetValid" | "KeyExpired"): KeyVaultError {
  const when = reason === "KeyExpired" ? "an expired key" : "a key that is not yet valid";
  return new KeyVaultError(403, "Forbidden", `Operation ${operation} is not allowed on ${when}.`, {
    innerCode: reason,
  });
}

export function unauthorized(): KeyVaultError {
  return new KeyVaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
}

export function throttled(retryAfterMs: number): KeyVaultError {
  return new KeyVaultError(
    429,
    "Throttled",
    "Request was not processed because too many requests were received. Reason: vault request quota exceeded.",
    { retryAfterSeconds: retryAfterSeconds(retryAfterMs) },
  );
}

export function internalServerError(): KeyVaultError {
  return new KeyVaultError(500, "InternalServerError", "An unexpected error occurred. Please retry.");
}

export function serviceUnavailable(): KeyVaultError {
  return new KeyVaultError(
    503,
    "ServiceUnavailable",
    "The service is temporarily unavailable. Please retry.",
  );
}

export function routeNotFound(): KeyVaultError {
  return new KeyVaultError(404, "NotFound", "The requested resource or operation does not exist.");
}

/** `Retry-After` carries whole seconds; rounding up never invites a client back before it may succeed. */
export function retryAfterSeconds(milliseconds: number): number {
  return Math.max(1, Math.ceil(milliseconds / 1000));
}

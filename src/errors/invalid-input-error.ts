import { KeyferryError } from "./keyferry-error.js";

/** Input that is well-formed but breaks a rule (HTTP 422): a wrong key size, an unsupported combination. */
export class InvalidInputError extends KeyferryError {
  override name = "InvalidInputError";

  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { status: 422, retryable: false, ...(details ? { details } : {}) });
  }
}

import { KeyferryError } from "./keyferry-error.js";

/**
 * A cryptographic operation failed: an authentication tag did not verify, an unwrap failed. The message
 * says which operation and which object, never the bytes involved.
 */
export class CryptoError extends KeyferryError {
  override name = "CryptoError";

  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { status: 500, retryable: false, cause });
  }
}

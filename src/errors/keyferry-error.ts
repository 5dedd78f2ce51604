/**
 * The one error base of keyferry. `code` is stable and safe to show to API callers; `status` is the HTTP
 * status an API answer carries; `retryable` tells workers whether trying again can help.
 *
 * Messages must never contain key material or credentials: they reach logs and API answers.
 */
export class KeyferryError extends Error {
  override name = "KeyferryError";
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      status?: number;
      retryable?: boolean;
      details?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

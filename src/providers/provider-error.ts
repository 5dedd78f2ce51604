import { KeyferryError } from "../errors/keyferry-error.js";

/**
 * How a failed cloud call should be handled:
 * - `throttled`: the cloud asked us to slow down; retry after `retryAfterMs`, and never count it as a failure;
 * - `transient`: 5xx, timeouts, dropped connections; retry with backoff;
 * - `permanent`: bad credentials, access denied, unsupported combination, not found; fail the step now.
 */
export type ProviderErrorKind = "throttled" | "transient" | "permanent";

/**
 * The remote code of keyferry's own throttling: the destination's shared rate limit or concurrency cap is
 * full. Such an error is never retried in place: the step goes back to the queue and frees its worker.
 */
export const DESTINATION_BUSY = "keyferry.DestinationBusy";

export class ProviderError extends KeyferryError {
  override name = "ProviderError";
  readonly kind: ProviderErrorKind;
  readonly retryAfterMs: number | undefined;
  /** The cloud's own error name or code (`ThrottlingException`, `KeyNotFound`, HTTP 503, ...). */
  readonly remoteCode: string;

  constructor(
    kind: ProviderErrorKind,
    remoteCode: string,
    message: string,
    options: { retryAfterMs?: number; status?: number; cause?: unknown } = {},
  ) {
    super(`provider_${kind}`, message, {
      status: options.status ?? (kind === "permanent" ? 422 : 503),
      retryable: kind !== "permanent",
      details: {
        remoteCode,
        ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      },
      cause: options.cause,
    });
    this.kind = kind;
    this.remoteCode = remoteCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

import { KeyferryError } from "../errors/keyferry-error.js";
import { ProviderError } from "../providers/provider-error.js";

/** The operation was canceled (by the API) while it ran; it stops between steps. */
export class OperationCanceledError extends KeyferryError {
  override name = "OperationCanceledError";

  constructor(operationId: string) {
    super("operation_canceled", `operation ${operationId} was canceled`, { status: 409 });
  }
}

/** A bulk operation's children are still running: the parent looks again after `retryInMs`. */
export class ChildrenPendingError extends KeyferryError {
  override name = "ChildrenPendingError";

  constructor(readonly retryInMs: number) {
    super("children_pending", "the operation's children are still running", { status: 409, retryable: true });
  }
}

export interface DestinationFailure {
  kms: string;
  error: unknown;
}

/**
 * Some destinations of a fan-out failed after all of them settled. Retryable when any failure is
 * (the destinations that succeeded are not redone: their steps are recorded); permanent otherwise.
 */
export class DestinationsFailedError extends KeyferryError {
  override name = "DestinationsFailedError";
  readonly failures: readonly DestinationFailure[];
  /** The longest wait a throttled destination asked for. */
  readonly retryAfterMs: number | undefined;

  constructor(failures: readonly DestinationFailure[]) {
    const retryable = failures.some((f) => isRetryable(f.error));
    const [only] = failures;
    const code = failures.length === 1 && only ? codeOf(only.error) : "destinations_failed";
    const message = failures.map((f) => `${f.kms}: ${messageOf(f.error)}`).join("; ");
    super(code, message, {
      status: retryable ? 503 : 422,
      retryable,
      details: { destinations: failures.map((f) => ({ kms: f.kms, code: codeOf(f.error) })) },
    });
    this.failures = failures;
    const asked = failures
      .map((f) => (f.error instanceof ProviderError ? f.error.retryAfterMs : undefined))
      .filter((ms): ms is number => ms !== undefined);
    this.retryAfterMs = asked.length > 0 ? Math.max(...asked) : undefined;
  }
}

export function isRetryable(error: unknown): boolean {
  if (error instanceof ProviderError) return error.kind !== "permanent";
  if (error instanceof KeyferryError) return error.retryable;
  // Unknown errors (a database connection lost, ...) are worth another try; the queue bounds the attempts.
  return true;
}

export function codeOf(error: unknown): string {
  return error instanceof KeyferryError ? error.code : "internal_error";
}

/** A message safe to store and show: our own errors' messages never hold secrets; others are not repeated. */
export function messageOf(error: unknown): string {
  if (error instanceof KeyferryError) return error.message;
  return `unexpected ${error instanceof Error ? error.name : "error"} (see the worker's log)`;
}

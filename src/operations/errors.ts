import { KeyferryError } from "../errors/keyferry-error.js";
import type { Logger } from "../logger.js";
import { ProviderError } from "../providers/provider-error.js";

/** The operation was canceled (by the API) while it ran; it stops between steps. */
export class OperationCanceledError extends KeyferryError {
  override name = "OperationCanceledError";

  constructor(operationId: string) {
    super("operation_canceled", `operation ${operationId} was canceled`, { status: 409 });
  }
}

/**
 * The run's lease on its operation is gone (another run took the operation over after this one stopped
 * renewing): this run stops before its next step and writes nothing more; the other finishes it.
 */
export class RunLeaseLostError extends Error {
  override name = "RunLeaseLostError";

  constructor(operationId: string) {
    super(`operation ${operationId}: this run's lease was lost; another run holds the operation`);
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

const logged = new WeakSet<object>();

/**
 * Log an error that is not one of keyferry's own (a bug, a driver failure) with its class, message, code
 * and stack, once, where it happens (the operation's logger carries its id, key and destination): the
 * stored and shown message only says "unexpected Error". Our own errors carry their code and message in
 * the step's record already.
 */
export function logUnexpected(logger: Logger, error: unknown, what: string): void {
  if (error instanceof KeyferryError || error instanceof ProviderError) return;
  if (error !== null && typeof error === "object") {
    if (logged.has(error)) return;
    logged.add(error);
  }
  // Not under `err`: pino's error serializer would turn this plain description into `type: "Object"`.
  logger.error({ cause: describeError(error) }, what);
}

/** Class, message, code and stack of an error and its causes, for a log line (never its other fields). */
export function describeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error).slice(0, 500) };
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message.slice(0, 2000),
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(error.stack ? { stack: error.stack.slice(0, 4000) } : {}),
    ...(error.cause !== undefined && depth < 3 ? { cause: describeError(error.cause, depth + 1) } : {}),
  };
}

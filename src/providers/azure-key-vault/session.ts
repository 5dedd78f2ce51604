import type { KeyClient } from "@azure/keyvault-keys";
import type { Logger } from "../../logger.js";
import type { KmsDestination, ProviderContext } from "../kms-provider.js";
import { ProviderError } from "../provider-error.js";
import { RETRY_ALL, RETRY_THROTTLED, type RetryOptions, withRetry } from "../retry.js";
import type { VaultClients } from "./clients.js";
import { toProviderError } from "./errors.js";

/**
 * The one way provider code calls Key Vault: keyferry's retry and error mapping around each request, the
 * operation's abort signal and a request timeout on it, and a log line naming only the operation, kms, key,
 * version and kid (SPEC section 7: never material, `.byok` bytes, JWK private parts or credentials).
 */

/** The options every SDK call takes (abort signal, request timeout), named through the SDK's own types. */
export type OperationOptions = NonNullable<Parameters<KeyClient["purgeDeletedKey"]>[1]>;

export type RetryPolicy = Pick<RetryOptions, "attempts" | "baseDelayMs" | "maxDelayMs" | "sleep">;

/**
 * Key Vault throttles per 10-second window (HSM key creation: 10 per 10 s), so a Retry-After of several
 * seconds is normal and worth waiting for in place; a longer one goes back to the scheduler.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 15_000 };

/** Without a timeout the SDK would wait forever on a silent connection; the timeout is a transient failure. */
const REQUEST_TIMEOUT_MS = 60_000;

/** What a log line may name: the Azure object, the keyferry version, the kid. */
export interface CallFields {
  name?: string;
  version?: number;
  kid?: string;
}

export interface AzureSession {
  readonly destination: KmsDestination;
  readonly ctx: ProviderContext;
  readonly clients: VaultClients;
  readonly logger: Logger;
  /**
   * Run one request. `idempotent` calls are retried on throttling and transient failures; the others only on
   * throttling (a throttled request was refused before anything happened), so that a lost answer reaches
   * the caller, whose journal and tag search take over on the next attempt.
   */
  call<T>(
    operation: string,
    run: (options: OperationOptions) => Promise<T>,
    fields: CallFields & { idempotent: boolean },
  ): Promise<T>;
}

export function azureSession(
  ctx: ProviderContext,
  destination: KmsDestination,
  clients: VaultClients,
  retry: RetryPolicy,
): AzureSession {
  const logger = ctx.logger.child({ kms: destination.name, provider: "azurekeyvault" });
  const requestOptions: OperationOptions = {
    ...(ctx.signal ? { abortSignal: ctx.signal } : {}),
    requestOptions: { timeout: REQUEST_TIMEOUT_MS },
  };
  return {
    destination,
    ctx,
    clients,
    logger,
    async call(operation, run, { idempotent, ...fields }) {
      const result = await withRetry(
        async () => {
          await ctx.beforeCall?.(operation);
          return run(requestOptions);
        },
        (error) => classify(error, operation, ctx.signal),
        {
          ...retry,
          signal: ctx.signal,
          retryOn: idempotent ? RETRY_ALL : RETRY_THROTTLED,
          onRetry: (error, attempt, delayMs) =>
            logger.info(
              { op: operation, ...fields, attempt, delayMs, kind: error.kind, remoteCode: error.remoteCode },
              "azure key vault call retried",
            ),
        },
      );
      logger.debug({ op: operation, ...fields }, "azure key vault call done");
      return result;
    },
  };
}

/**
 * withRetry wants a ProviderError for every failure. What is not an Azure failure (the caller's abort, one
 * of keyferry's own errors, a bug) is rethrown from here unchanged: it must neither be retried nor disguised.
 */
function classify(error: unknown, operation: string, signal: AbortSignal | undefined): ProviderError {
  const mapped = toProviderError(error, operation, { aborted: signal?.aborted === true });
  if (mapped instanceof ProviderError) return mapped;
  throw mapped;
}

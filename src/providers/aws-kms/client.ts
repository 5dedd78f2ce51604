import { KMSClient } from "@aws-sdk/client-kms";
import { InvalidInputError } from "../../errors/invalid-input-error.js";
import type { Logger } from "../../logger.js";
import type { AwsCredentials, KmsDestination, ProviderContext } from "../kms-provider.js";
import { isLoopback } from "../loopback.js";
import { RETRY_ALL, RETRY_THROTTLED, type RetryOptions, withRetry } from "../retry.js";
import { classifyAwsError } from "./errors.js";

/**
 * SDK clients, one per destination and region (the destination's own, and its replica regions) and rebuilt
 * when the destination's revision changes, and the one way
 * provider code calls KMS: with keyferry's retrying and error mapping, the operation's abort signal, and a
 * log line that names the operation, kms, key, version and ARN only.
 */

export type RetryPolicy = Pick<RetryOptions, "attempts" | "baseDelayMs" | "maxDelayMs" | "sleep">;

/** KMS's published rates are per second; a few seconds of backoff ride out a burst without stalling a worker. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

/** Without these the SDK waits forever on a silent connection; a timeout is a transient failure. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * Loopback endpoints are the emulators, which check that requests are signed but not by whom: fixed
 * placeholder credentials keep the SDK's default chain from signing emulator traffic with a real identity.
 */
const EMULATOR_CREDENTIALS = { accessKeyId: "KEYFERRYEMULATOR", secretAccessKey: "not-a-secret" };

export class KmsClientCache {
  private readonly clients = new Map<string, { revision: number; client: KMSClient }>();

  constructor(private readonly logger: Logger | undefined) {}

  /**
   * `region` defaults to the destination's own. An `endpoint` option serves every region (the emulators tell
   * regions apart by the SigV4 scope).
   */
  clientFor(destination: KmsDestination, region = destination.keyCollection): KMSClient {
    const cacheKey =
      region === destination.keyCollection ? destination.name : `${destination.name}\n${region}`;
    const cached = this.clients.get(cacheKey);
    if (cached && cached.revision === destination.revision) return cached.client;
    cached?.client.destroy();
    const endpoint = checkEndpoint(destination.options.endpoint);
    const client = new KMSClient({
      region,
      endpoint,
      credentials: credentialsOf(destination, endpoint),
      // keyferry retries itself, so that every failure is classified and throttling waits as asked.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    });
    this.clients.set(cacheKey, { revision: destination.revision, client });
    this.logger?.debug(
      { kms: destination.name, region, revision: destination.revision },
      "aws-kms client built",
    );
    return client;
  }

  close(): void {
    for (const { client } of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}

/** Names and ids that may appear in a log line next to the operation name. */
export interface CallFields {
  key?: string;
  version?: number;
  arn?: string;
}

export interface KmsSession {
  readonly destination: KmsDestination;
  readonly ctx: ProviderContext;
  /**
   * Run one KMS request. `idempotent` calls are retried on throttling and transient failures; the others
   * only on throttling (a throttled request was refused before anything happened), so that a lost answer
   * reaches the caller, whose journal and tag search take over.
   */
  call<T>(
    operation: string,
    run: (client: KMSClient, abortSignal: AbortSignal | undefined) => Promise<T>,
    options: CallFields & { idempotent: boolean },
  ): Promise<T>;
}

export function kmsSession(
  client: KMSClient,
  destination: KmsDestination,
  ctx: ProviderContext,
  retry: RetryPolicy,
): KmsSession {
  return {
    destination,
    ctx,
    async call(operation, run, { idempotent, ...fields }) {
      const logFields = { op: operation, kms: destination.name, ...fields };
      const result = await withRetry(
        async () => {
          await ctx.beforeCall?.(operation);
          return run(client, ctx.signal);
        },
        (error) => classifyAwsError(error, operation),
        {
          ...retry,
          signal: ctx.signal,
          retryOn: idempotent ? RETRY_ALL : RETRY_THROTTLED,
          onRetry: (error, attempt, delayMs) =>
            ctx.logger.warn(
              { ...logFields, kind: error.kind, remoteCode: error.remoteCode, attempt, delayMs },
              "aws-kms call will be retried",
            ),
        },
      );
      ctx.logger.debug(logFields, "aws-kms call");
      return result;
    },
  };
}

function checkEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidInputError("invalid_endpoint", "options.endpoint must be an absolute URL", {
      field: "options.endpoint",
    });
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw new InvalidInputError(
      "invalid_endpoint",
      "options.endpoint must use https (plain http only on loopback)",
      {
        field: "options.endpoint",
      },
    );
  }
  return endpoint;
}

function credentialsOf(
  destination: KmsDestination,
  endpoint: string | undefined,
): AwsCredentials | undefined {
  const given = destination.credentials;
  if (given === undefined) {
    const emulator = endpoint !== undefined && isLoopback(new URL(endpoint).hostname);
    return emulator ? EMULATOR_CREDENTIALS : undefined;
  }
  if (!("accessKeyId" in given) || !given.accessKeyId || !given.secretAccessKey) {
    throw new InvalidInputError(
      "invalid_credentials",
      "AWS credentials need accessKeyId and secretAccessKey",
      {
        field: "credentials",
      },
    );
  }
  const { accessKeyId, secretAccessKey, sessionToken } = given;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

import { readFile } from "node:fs/promises";

/**
 * The CLI's way to the API: base URL and bearer token from flags or the environment (KEYFERRY_URL,
 * KEYFERRY_TOKEN), falling back to the dev stack's token file. Errors keep the API's stable code.
 */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url?: string;
  token?: string;
}

export interface ApiClient {
  request<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

const DEV_TOKEN_FILE = ".keyferry/admin-token";

async function resolveToken(explicit: string | undefined): Promise<string | undefined> {
  if (explicit) return explicit;
  if (process.env.KEYFERRY_TOKEN) return process.env.KEYFERRY_TOKEN;
  try {
    return (await readFile(DEV_TOKEN_FILE, "utf8")).trim();
  } catch {
    return undefined;
  }
}

export async function createApiClient(options: ClientOptions = {}): Promise<ApiClient> {
  const base = (options.url ?? process.env.KEYFERRY_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const token = await resolveToken(options.token);
  return {
    async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw new ApiError(
          0,
          "unreachable",
          `cannot reach the keyferry API at ${base}: ${(error as Error).message}`,
        );
      }
      const text = await response.text();
      const parsed: unknown = text ? safeJson(text) : undefined;
      if (!response.ok) {
        const error = (
          parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined
        )?.error;
        throw new ApiError(
          response.status,
          error?.code ?? `http_${response.status}`,
          error?.message ?? `${method} ${path} answered ${response.status}`,
          error?.details,
        );
      }
      return parsed as T;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

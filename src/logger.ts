import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

/**
 * Every field name that may carry a secret, wherever it sits. pino's redaction works on paths, so each
 * name is listed at the top level and a few levels deep (`*.x`, `*.*.x`, ...), which covers the log
 * objects keyferry writes (`{ err }`, `{ job: { data } }`, `{ req: { headers } }`). Code must still never
 * pass secrets to a logger: this list is the second line of defence, not the first.
 */
export const SECRET_FIELDS = [
  "material",
  "plaintext",
  "privateKey",
  "private_key",
  "sealedMaterial",
  "sealed_material",
  "sealedCredentials",
  "sealed_credentials",
  "encryptedKeyMaterial",
  "EncryptedKeyMaterial",
  "ImportToken",
  "importToken",
  "ciphertext",
  "wrapped",
  "rootKey",
  "credentials",
  "secretAccessKey",
  "sessionToken",
  "clientSecret",
  "password",
  "token",
  "secret",
  "authorization",
  "Authorization",
  "cookie",
  "key_hsm",
  "t",
] as const;

const DEPTH = 4;

export function redactionPaths(fields: readonly string[] = SECRET_FIELDS): string[] {
  const paths: string[] = [];
  for (const field of fields) {
    for (let depth = 0; depth < DEPTH; depth++) paths.push(`${"*.".repeat(depth)}${field}`);
  }
  return paths;
}

export function createLogger(
  options: { level: LogLevel; name?: string },
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      name: options.name ?? "keyferry",
      level: options.level,
      redact: { paths: redactionPaths(), censor: "[redacted]" },
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

export type { Logger, LogLevel };

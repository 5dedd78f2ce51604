import type { z } from "zod";
import { badParameter } from "./errors.js";

/** Request parsing shared by the routes: names, versions, byte fields and bodies, each checked once. */

const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
// Key Vault writes base64url; other clients (and the BYOK specification's examples) send standard base64.
const BASE64_ANY = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function keyName(value: string | undefined): string {
  if (value === undefined || !KEY_NAME.test(value)) {
    throw badParameter(
      `The request URI contains an invalid name: ${value ?? ""}. Key names are 1-127 letters, digits and dashes.`,
    );
  }
  return value;
}

/** A version segment; `""` (the SDK's `/keys/{name}/` and `/keys/{name}//op`) means the latest. */
export function keyVersion(value: string | undefined): string {
  return value ?? "";
}

/** Bytes of a JSON field in base64url or base64; `field` names it in the error. */
export function decodeBytes(value: string, field: string): Buffer {
  if (!BASE64_ANY.test(value)) throw badParameter(`Property ${field} is not valid base64url.`);
  // Node's base64 decoder reads both alphabets.
  return Buffer.from(value, "base64");
}

export function optionalBytes(value: string | null | undefined, field: string): Buffer | undefined {
  return value === undefined || value === null || value === "" ? undefined : decodeBytes(value, field);
}

export function encodeBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

/** Validate a JSON body; the first problem becomes a BadParameter naming the property. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join(".") : "body";
  throw badParameter(`Property ${path} has invalid value: ${issue?.message ?? "invalid"}.`);
}

/**
 * The query's `api-version`, any value (the SDK sends 2025-07-01 by default, older ones on request). The SDK
 * spells the key `api%2Dversion`; URLSearchParams decodes it like any other percent-encoding.
 */
export function requireApiVersion(url: string): string {
  const query = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
  const apiVersion = new URLSearchParams(query).get("api-version");
  if (!apiVersion) throw badParameter("The api-version query parameter is required.");
  return apiVersion;
}

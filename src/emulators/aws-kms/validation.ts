import { type ZodType, z } from "zod";
import { type KmsError, serialization, validation } from "./errors.js";

/**
 * Input checking at the boundary, answered the way AWS JSON services answer: a missing member or a value
 * outside its constraints is a ValidationException ("1 validation error detected: Value 'X' at 'keySpec'
 * failed to satisfy constraint: Member must satisfy enum value set: [...]"), a value of the wrong JSON type
 * or a blob that is not base64 is a SerializationException. Members the model does not know are ignored,
 * as the service ignores them (newer SDKs may send members an older service does not have yet).
 *
 * Blob values are never echoed in messages: they may be plaintext or key material.
 */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BLOB_FORMAT = "base64 blob";

/** A base64 blob member, decoded, with the model's length limits in bytes. */
export function blob(min: number, max: number) {
  return z
    .string()
    .regex(BASE64, BLOB_FORMAT)
    .transform((text) => Buffer.from(text, "base64"))
    .refine((bytes) => bytes.length >= min, `Member must have length greater than or equal to ${min}`)
    .refine((bytes) => bytes.length <= max, `Member must have length less than or equal to ${max}`);
}

/** A timestamp member: AWS JSON sends epoch seconds (fractional); returned as milliseconds. */
export const timestamp = z.number().transform((seconds) => Math.round(seconds * 1000));

/** KeyId members: key id, key ARN, alias name or alias ARN (which ones an operation takes is its business). */
export const keyIdMember = z.string().min(1).max(2048);

export function parseInput<T extends ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw toKmsError(result.error.issues);
}

type Issue = z.core.$ZodIssue & { input?: unknown };

function toKmsError(issues: readonly Issue[]): KmsError {
  const wrongType = issues.find(
    (issue) =>
      (issue.code === "invalid_type" && issue.input !== undefined) ||
      (issue.code === "invalid_format" && issue.message === BLOB_FORMAT),
  );
  if (wrongType) return serialization(`Unexpected value at '${memberPath(wrongType.path)}'`);
  const details = issues.map(describe);
  const count = details.length === 1 ? "1 validation error" : `${details.length} validation errors`;
  return validation(`${count} detected: ${details.join("; ")}`);
}

function describe(issue: Issue): string {
  const at = `at '${memberPath(issue.path)}'`;
  const value = shownValue(issue);
  switch (issue.code) {
    case "invalid_type":
      return `Value null ${at} failed to satisfy constraint: Member must not be null`;
    case "invalid_value":
      return `${value} ${at} failed to satisfy constraint: Member must satisfy enum value set: [${issue.values.join(", ")}]`;
    case "too_small":
      return `${value} ${at} failed to satisfy constraint: Member must have ${measure(issue.origin)} greater than or equal to ${issue.minimum}`;
    case "too_big":
      return `${value} ${at} failed to satisfy constraint: Member must have ${measure(issue.origin)} less than or equal to ${issue.maximum}`;
    default:
      return `${value} ${at} failed to satisfy constraint: ${issue.message}`;
  }
}

function measure(origin: string): string {
  return origin === "number" || origin === "int" ? "value" : "length";
}

/** Strings and numbers are echoed as the service does; anything else (blobs, maps) is not. */
function shownValue(issue: Issue): string {
  const input = issue.input;
  if (issue.code !== "custom" && (typeof input === "string" || typeof input === "number")) {
    return `Value '${input}'`;
  }
  return "Value";
}

/** The service names members in lowerCamelCase in its messages ("keySpec", "tags.1.member.tagKey"). */
function memberPath(path: readonly PropertyKey[]): string {
  return path
    .map((part) =>
      typeof part === "number"
        ? `${part + 1}.member`
        : String(part).replace(/^[A-Z]/, (first) => first.toLowerCase()),
    )
    .join(".");
}

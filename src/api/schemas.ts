import { z } from "zod";
import { KEY_TYPES } from "../crypto/key-types.js";
import { OPERATION_STATES, OPERATION_TYPES, PROTECTIONS, PURPOSES, ROLES } from "../db/schema/index.js";

/** The zod schemas the HTTP API shares between routes: names, errors, operations, paging. */

/** Key names: a letter or digit, then letters, digits, '.', '_' and '-', 128 characters at most. */
export const keyNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    "a letter or digit, then letters, digits, '.', '_', '-' (≤128)",
  );

/** Destination names: like key names, 64 characters at most. */
export const kmsNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a letter or digit, then letters, digits, '.', '_', '-' (≤64)");

export const keyTypeSchema = z.enum(KEY_TYPES);
export const purposeSchema = z.enum(PURPOSES);
export const protectionSchema = z.enum(PROTECTIONS);
export const roleSchema = z.enum(ROLES);
export const operationStateSchema = z.enum(OPERATION_STATES);
export const operationTypeSchema = z.enum(OPERATION_TYPES);

/** "90d", "12h", "30m", "3600s", "2w": a whole number and one unit. */
export const rotationPeriodSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,9}[smhdw]$/, 'a whole number and one of s, m, h, d, w, such as "90d"');

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const stepSchema = z.object({
  name: z.string(),
  state: z.string(),
  attempts: z.number().int(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
});

export const operationSchema = z.object({
  id: z.uuid(),
  type: operationTypeSchema,
  state: operationStateSchema,
  key: z.string().optional(),
  kms: z.string().optional(),
  parentId: z.uuid().optional(),
  steps: z.array(stepSchema),
  progress: z.object({ done: z.number(), failed: z.number(), total: z.number() }).optional(),
  error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean().optional() }).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const distributionSchema = z.object({
  key: z.string(),
  kms: z.string(),
  provider: z.string(),
  remoteName: z.string().nullable(),
  purposes: z.array(purposeSchema),
  protection: protectionSchema,
  state: z.string(),
  /** Version number → the remote object holding it (AWS key ARN, Azure versioned kid). */
  versions: z.record(z.string(), z.string()),
  versionStates: z.record(z.string(), z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const idParamsSchema = z.strictObject({ id: z.uuid() });
export const keyParamsSchema = z.strictObject({ name: keyNameSchema });
export const kmsParamsSchema = z.strictObject({ name: kmsNameSchema });
export const distributionParamsSchema = z.strictObject({ kms: kmsNameSchema, key: keyNameSchema });

export const limitSchema = z.coerce.number().int().min(1).max(500).default(100);

/** Error answers every protected route may give, for the OpenAPI document. */
export const commonErrors = {
  400: errorSchema.describe("malformed request, schema violation or unknown field (invalid_request)"),
  401: errorSchema.describe("no or unknown bearer token (unauthorized)"),
  403: errorSchema.describe("the token's role may not do this (forbidden)"),
  503: errorSchema.describe("PostgreSQL or Redis is down (backing_service_down)"),
} as const;

export const mutationErrors = {
  ...commonErrors,
  409: errorSchema.describe(
    "conflict, or the same Idempotency-Key is still in flight (idempotency_in_flight)",
  ),
  422: errorSchema.describe("a rule is broken, or the Idempotency-Key was used for another request"),
} as const;

export const notFound = { 404: errorSchema.describe("not_found") } as const;

/** Sent on every mutating route's documentation. */
export const idempotencyHeaders = z.object({
  "idempotency-key": z.string().optional().describe("IETF Idempotency-Key, scoped to the calling token"),
});

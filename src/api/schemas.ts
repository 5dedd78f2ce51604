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

/** `Error` in the OpenAPI document: every 4xx and 5xx answer has this shape. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe("stable, for programs: not_found, key_exists, idempotency_in_flight, ..."),
      message: z.string().describe("for people; never contains key material or credentials"),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({
    id: "Error",
    examples: [{ error: { code: "key_exists", message: "a key named payments-db exists" } }],
  });

export const stepSchema = z.object({
  name: z.string(),
  state: z.string(),
  attempts: z.number().int(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
});

export const operationSchema = z
  .object({
    id: z.uuid(),
    type: operationTypeSchema,
    state: operationStateSchema,
    key: z.string().optional(),
    kms: z.string().optional(),
    parentId: z.uuid().optional(),
    steps: z.array(stepSchema),
    progress: z
      .object({
        done: z.number(),
        failed: z.number().describe("failed or canceled children"),
        total: z.number(),
        etaSeconds: z.number().optional().describe("time left at each destination's recent rate"),
      })
      .optional(),
    error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean().optional() }).optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({
    id: "Operation",
    description: "An accepted request; follow it with GET /v1/operations/{id} until its state is final.",
    examples: [
      {
        id: "0f6a3c1e-5b7d-4c1a-9e2f-3d4b5a6c7d8e",
        type: "distribute",
        state: "running",
        key: "payments-db",
        kms: "aws-prod",
        steps: [
          {
            name: "get-import-params",
            state: "succeeded",
            attempts: 1,
            startedAt: "2025-01-01T10:00:00.000Z",
            finishedAt: "2025-01-01T10:00:01.000Z",
            detail: {},
          },
          {
            name: "import",
            state: "running",
            attempts: 1,
            startedAt: "2025-01-01T10:00:01.000Z",
            finishedAt: null,
            detail: {},
          },
        ],
        createdAt: "2025-01-01T10:00:00.000Z",
        updatedAt: "2025-01-01T10:00:01.000Z",
      },
    ],
  });

export const distributionSchema = z
  .object({
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
  })
  .meta({ id: "Distribution", description: "One key's copy in one kms destination." });

export const idParamsSchema = z.strictObject({ id: z.uuid() });
export const keyParamsSchema = z.strictObject({ name: keyNameSchema });
export const kmsParamsSchema = z.strictObject({ name: kmsNameSchema });
export const distributionParamsSchema = z.strictObject({ kms: kmsNameSchema, key: keyNameSchema });

export const limitSchema = z.coerce.number().int().min(1).max(500).default(100);

/**
 * A documented answer: a description of when it is given and the schema of its JSON body. Fastify serializes
 * through the schema exactly as with a bare schema; the description is what `/docs` shows for the status.
 */
export function answer<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { "application/json": { schema } } };
}

const failure = (description: string) => answer(description, errorSchema);

/** The 202 of every route that accepts an operation. */
export const accepted = {
  202: answer("accepted: the operation, queued (poll GET /v1/operations/{id})", operationSchema),
} as const;

/** Error answers every protected route may give (every one reads PostgreSQL to check the token). */
export const commonErrors = {
  400: failure("malformed JSON, a schema violation or an unknown field (invalid_request)"),
  401: failure("no bearer token, or an unknown or revoked one (unauthorized)"),
  403: failure("the token's role may not do this (forbidden)"),
  503: failure("PostgreSQL or Redis is not answering (backing_service_down)"),
} as const;

/** A rule is broken by well-formed input (422), with a code naming the rule. */
export const ruleErrors = {
  422: failure("valid JSON that breaks a rule; the code names it"),
} as const;

/** Routes that take a JSON body also refuse bodies over 256 KiB and other media types. */
export const bodyErrors = {
  413: failure("the body is over 256 KiB (payload_too_large)"),
  415: failure("the body is not application/json (unsupported_media_type)"),
} as const;

/** Mutating routes honouring `Idempotency-Key`: conflicts and idempotency answers come on top. */
export const mutationErrors = {
  ...commonErrors,
  409: failure(
    "a conflict with the object's state, or a request with the same Idempotency-Key is still in flight " +
      "(idempotency_in_flight)",
  ),
  422: failure(
    "valid JSON that breaks a rule (the code names it), or this Idempotency-Key was used for another " +
      "request (idempotency_key_reused)",
  ),
} as const;

export const notFound = { 404: failure("what the path names does not exist (not_found)") } as const;

/**
 * Request headers of every mutating route that honours `Idempotency-Key`. Loose: the other headers must stay
 * on the request (the validated object replaces `request.headers`). The key's syntax is checked by
 * runMutation (422 invalid_idempotency_key), not here.
 */
export const idempotencyHeaders = z.looseObject({
  "idempotency-key": z
    .string()
    .optional()
    .describe(
      "IETF Idempotency-Key (1–255 visible ASCII characters), scoped to the calling token and kept 24 h: " +
        "a repeat answers the first answer with Idempotent-Replayed: true",
    ),
});

import { z } from "zod";
import { InvalidInputError } from "../errors/invalid-input-error.js";

const AWS_REGION = /^[a-z]{2}(-[a-z0-9]+)+-\d+$/;
/** keyferry's own bound on the replicas of one copy (each costs a ReplicateKey and an import per version). */
export const MAX_REPLICA_REGIONS = 10;

/**
 * A destination's `options` and `credentials` as `PUT /v1/kms/{name}` accepts them (SPEC section 4), strict:
 * unknown fields are refused. The same schemas parse what the database holds before a provider sees it.
 */
export const kmsOptionsSchema = z
  .object({
    endpoint: z.url().optional(),
    pendingWindowDays: z.number().int().min(7).max(30).optional(),
    purgeOnRemove: z.boolean().optional(),
    managedHsm: z.boolean().optional(),
    namePrefix: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,32}$/, "letters, digits and '-', at most 32")
      .optional(),
    awsSymmetricLayout: z.enum(["key-per-version", "single-key"]).optional(),
    /** AWS: other regions of the same account that hold a multi-Region replica of every copy. */
    replicaRegions: z
      .array(z.string().regex(AWS_REGION, "an AWS region such as us-east-1"))
      .min(1)
      .max(MAX_REPLICA_REGIONS)
      .refine((regions) => new Set(regions).size === regions.length, "regions must be unique")
      .optional(),
    /** Requests per second this destination may take, overriding the published quotas' defaults. */
    rateLimitPerSecond: z.number().positive().max(100_000).optional(),
    /** Requests in flight at once against this destination, from all workers together. */
    concurrency: z.number().int().min(1).max(1000).optional(),
    /** How often keyferry checks the destination for drift, in seconds (0: only on request). */
    reconcileIntervalSeconds: z
      .number()
      .int()
      .min(0)
      .max(365 * 86_400)
      .optional(),
  })
  .strict();

/**
 * Rules between options and the provider or keyCollection that the schema cannot see: `replicaRegions` is for
 * AWS destinations only and must not name the destination's own region. A 422 naming the rule.
 */
export function checkProviderOptions(
  provider: string,
  keyCollection: string,
  options: KmsOptionsInput,
): void {
  const regions = options.replicaRegions;
  if (regions === undefined) return;
  if (provider !== "awskms") {
    throw new InvalidInputError(
      "unsupported_option",
      "options.replicaRegions applies to AWS KMS destinations only (multi-Region keys)",
      { field: "options.replicaRegions" },
    );
  }
  if (regions.includes(keyCollection)) {
    throw new InvalidInputError(
      "invalid_replica_regions",
      `options.replicaRegions must not name the destination's own region ${keyCollection}`,
      { field: "options.replicaRegions" },
    );
  }
}

export const awsCredentialsSchema = z
  .object({
    accessKeyId: z.string().min(16).max(128),
    secretAccessKey: z.string().min(1).max(256),
    sessionToken: z.string().min(1).max(4096).optional(),
  })
  .strict();

export const azureCredentialsSchema = z
  .object({
    tenantId: z.string().min(1).max(128),
    clientId: z.string().min(1).max(128),
    clientSecret: z.string().min(1).max(1024),
  })
  .strict();

export type KmsOptionsInput = z.infer<typeof kmsOptionsSchema>;

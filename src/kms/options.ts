import { z } from "zod";

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
    /** Requests per second this destination may take, overriding the published quotas' defaults. */
    rateLimitPerSecond: z.number().positive().max(100_000).optional(),
    /** Requests in flight at once against this destination, from all workers together. */
    concurrency: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

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

import { z } from "zod";
import type { KeyRow } from "./lookups.js";
import { distributionSchema, keyTypeSchema } from "./schemas.js";
import { formatRotationPeriod } from "./views.js";

/** The answer shapes of keys, shared by `/v1/keys` and `/v1/keys/{name}`. */

/** Vault's transit engine refuses auto-rotation periods under an hour; so does keyferry. */
export const MIN_ROTATION_SECONDS = 3600;

export const keySummarySchema = z.object({
  name: z.string(),
  type: keyTypeSchema,
  state: z.string(),
  latestVersion: z.number().int(),
  minEnabledVersion: z.number().int(),
  deletionAllowed: z.boolean(),
  rotationPeriod: z.string().nullable(),
  offlineExport: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const keySchema = keySummarySchema.extend({
  versions: z.record(z.string(), z.object({ createdAt: z.string(), publicKey: z.string().optional() })),
  distributions: z.array(distributionSchema),
});

export function keySummaryView(row: KeyRow): z.infer<typeof keySummarySchema> {
  return {
    name: row.name,
    type: row.type,
    state: row.state,
    latestVersion: row.latestVersion,
    minEnabledVersion: row.minEnabledVersion,
    deletionAllowed: row.deletionAllowed,
    rotationPeriod: row.rotationPeriodSeconds ? formatRotationPeriod(row.rotationPeriodSeconds) : null,
    offlineExport: row.offlineExport,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

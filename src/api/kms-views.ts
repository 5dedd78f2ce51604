import { z } from "zod";
import type { KmsRow } from "./lookups.js";

/** A destination as the API shows it: never its credentials, only whether it has some. */
export const kmsSchema = z.object({
  name: z.string(),
  provider: z.enum(["awskms", "azurekeyvault"]),
  keyCollection: z.string(),
  options: z.record(z.string(), z.unknown()),
  hasCredentials: z.boolean(),
  revision: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function kmsView(row: KmsRow): z.infer<typeof kmsSchema> {
  return {
    name: row.name,
    provider: row.provider,
    keyCollection: row.keyCollection,
    options: row.options,
    hasCredentials: row.sealedCredentials !== null,
    revision: row.revision,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

import { sql } from "drizzle-orm";
import { check, integer, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { bytea, createdAt, sqlList, updatedAt } from "./columns.js";

export const PROVIDERS = ["awskms", "azurekeyvault"] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * A destination. Credentials are sealed (purpose `kms-credentials`, name = kms name) and never returned;
 * `revision` grows on every change so that cached SDK clients know when to rebuild.
 */
export const kms = pgTable(
  "kms",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull().unique(),
    provider: text("provider", { enum: PROVIDERS }).notNull(),
    keyCollection: text("key_collection").notNull(),
    sealedCredentials: bytea("sealed_credentials"),
    credentialsRootKeyId: text("credentials_root_key_id"),
    options: jsonb("options").$type<Record<string, unknown>>().notNull().default({}),
    revision: integer("revision").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("kms_provider_known", sql`${t.provider} in (${sqlList(PROVIDERS)})`),
    check(
      "kms_credentials_sealed_with_root_key_id",
      sql`(${t.sealedCredentials} is null) = (${t.credentialsRootKeyId} is null)`,
    ),
  ],
);

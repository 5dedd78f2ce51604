import { sql } from "drizzle-orm";
import { type AnyPgColumn, check, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { bytea, createdAt, sqlList } from "./columns.js";

export const ROLES = ["admin", "operator", "auditor"] as const;
export type Role = (typeof ROLES)[number];

/**
 * API bearer tokens. Only the SHA-256 of the secret is kept (the secrets are 256-bit random, so a fast
 * hash is enough); `prefix` is the first characters of the secret, to tell tokens apart in lists.
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    secretHash: bytea("secret_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    createdBy: uuid("created_by").references((): AnyPgColumn => apiTokens.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [check("api_tokens_role_known", sql`${t.role} in (${sqlList(ROLES)})`)],
);

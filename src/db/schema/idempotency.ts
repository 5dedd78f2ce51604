import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { bytea, createdAt, sqlList } from "./columns.js";
import { operations } from "./operations.js";
import { apiTokens } from "./tokens.js";

export const IDEMPOTENCY_STATES = ["in_flight", "completed"] as const;

/**
 * `Idempotency-Key` records, scoped to the calling token. `requestHash` is the SHA-256 of method, route and
 * canonical body, so that the same key with another request can be refused (422).
 */
export const idempotencyRecords = pgTable(
  "idempotency_records",
  {
    tokenId: uuid("token_id")
      .notNull()
      .references(() => apiTokens.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    requestHash: bytea("request_hash").notNull(),
    state: text("state", { enum: IDEMPOTENCY_STATES }).notNull().default("in_flight"),
    responseStatus: integer("response_status"),
    responseBody: jsonb("response_body"),
    operationId: uuid("operation_id").references(() => operations.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tokenId, t.key] }),
    index("idempotency_records_expires").on(t.expiresAt),
    check("idempotency_records_state_known", sql`${t.state} in (${sqlList(IDEMPOTENCY_STATES)})`),
  ],
);

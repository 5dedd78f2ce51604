import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { createdAt, sqlList, updatedAt } from "./columns.js";
import { keys } from "./keys.js";
import { kms } from "./kms.js";

export const PURPOSES = ["encrypt", "decrypt", "sign", "verify", "wrap", "unwrap"] as const;
export const PROTECTIONS = ["hsm", "software"] as const;
export const DISTRIBUTION_STATES = ["distributing", "active", "removing", "removed", "failed"] as const;
export const REMOTE_VERSION_STATES = ["pending", "enabled", "disabled", "removed"] as const;

/**
 * One key copied into one kms. Removed copies stay as history; at most one copy of a key per kms is live.
 */
export const distributions = pgTable(
  "distributions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    keyId: uuid("key_id")
      .notNull()
      .references(() => keys.id, { onDelete: "restrict" }),
    kmsId: uuid("kms_id")
      .notNull()
      .references(() => kms.id, { onDelete: "restrict" }),
    purposes: text("purposes", { enum: PURPOSES }).array().notNull(),
    protection: text("protection", { enum: PROTECTIONS }).notNull(),
    remoteName: text("remote_name"),
    state: text("state", { enum: DISTRIBUTION_STATES }).notNull().default("distributing"),
    /** The provider's non-secret facts about the copy as a whole (RemoteCopy.detail: layout, ...). */
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("distributions_live_key_kms").on(t.keyId, t.kmsId).where(sql`${t.state} <> 'removed'`),
    index("distributions_kms").on(t.kmsId),
    check("distributions_state_known", sql`${t.state} in (${sqlList(DISTRIBUTION_STATES)})`),
    check("distributions_protection_known", sql`${t.protection} in (${sqlList(PROTECTIONS)})`),
    check("distributions_purposes_known", sql`${t.purposes} <@ array[${sqlList(PURPOSES)}]::text[]`),
    check("distributions_purposes_present", sql`cardinality(${t.purposes}) > 0`),
  ],
);

/** The remote object holding one keyferry version: an ARN (AWS) or a versioned kid (Azure). */
export const distributionVersions = pgTable(
  "distribution_versions",
  {
    distributionId: uuid("distribution_id")
      .notNull()
      .references(() => distributions.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    remoteId: text("remote_id").notNull(),
    state: text("state", { enum: REMOTE_VERSION_STATES }).notNull().default("enabled"),
    /** Provider facts that are not secret: AWS KeyMaterialId, Azure version id, ... */
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.distributionId, t.version] }),
    check("distribution_versions_state_known", sql`${t.state} in (${sqlList(REMOTE_VERSION_STATES)})`),
  ],
);

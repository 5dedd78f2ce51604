import { sql } from "drizzle-orm";
import { bigint, boolean, check, integer, pgTable, primaryKey, text, uuid } from "drizzle-orm/pg-core";
import { KEY_TYPES } from "../../crypto/key-types.js";
import { bytea, createdAt, sqlList, updatedAt } from "./columns.js";

export const KEY_STATES = ["creating", "active", "deleting", "deleted"] as const;

const quoted = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(", "));

export const keys = pgTable(
  "keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull().unique(),
    type: text("type", { enum: KEY_TYPES }).notNull(),
    state: text("state", { enum: KEY_STATES }).notNull().default("creating"),
    latestVersion: integer("latest_version").notNull().default(0),
    minEnabledVersion: integer("min_enabled_version").notNull().default(1),
    deletionAllowed: boolean("deletion_allowed").notNull().default(false),
    rotationPeriodSeconds: bigint("rotation_period_seconds", { mode: "number" }),
    offlineExport: boolean("offline_export").notNull().default(false),
    /**
     * The last per-key sequence number given to one of the key's operations (`operations.key_seq`), bumped at
     * intake under this row's lock, so that the key's operations are ordered as their intakes committed.
     */
    opSeq: bigint("op_seq", { mode: "number" }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("keys_type_known", sql`${t.type} in (${sqlList(KEY_TYPES)})`),
    check("keys_state_known", sql`${t.state} in (${sqlList(KEY_STATES)})`),
    check("keys_min_enabled_version_positive", sql`${t.minEnabledVersion} >= 1`),
    check(
      "keys_rotation_period_positive",
      sql`${t.rotationPeriodSeconds} is null or ${t.rotationPeriodSeconds} > 0`,
    ),
  ],
);

/**
 * One generation of a key's material, sealed under the root key named by `rootKeyId` (AES-256-GCM with the
 * key name and version as associated data). `publicKey` is the DER SPKI of asymmetric keys.
 */
export const keyVersions = pgTable(
  "key_versions",
  {
    keyId: uuid("key_id")
      .notNull()
      .references(() => keys.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    sealedMaterial: bytea("sealed_material").notNull(),
    rootKeyId: text("root_key_id").notNull(),
    publicKey: bytea("public_key"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.keyId, t.version] }),
    check("key_versions_version_positive", sql`${t.version} >= 1`),
  ],
);

export { quoted };

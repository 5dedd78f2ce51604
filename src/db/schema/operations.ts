import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { createdAt, sqlList, updatedAt } from "./columns.js";
import { keys } from "./keys.js";
import { kms } from "./kms.js";
import { apiTokens } from "./tokens.js";

export const OPERATION_TYPES = [
  "create",
  "rotate",
  "update",
  "delete",
  "distribute",
  "remove",
  "redistribute",
  "reconcile",
] as const;
export const OPERATION_STATES = ["queued", "running", "succeeded", "failed", "canceled"] as const;
export const STEP_STATES = ["pending", "running", "succeeded", "failed", "skipped"] as const;

export type OperationType = (typeof OPERATION_TYPES)[number];
export type OperationState = (typeof OPERATION_STATES)[number];

export interface OperationError {
  code: string;
  message: string;
  retryable?: boolean;
}

/**
 * One accepted request. `input` holds the validated request (never secrets); bulk operations have
 * children (`parentId`), whose states give the parent's progress.
 */
export const operations = pgTable(
  "operations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    type: text("type", { enum: OPERATION_TYPES }).notNull(),
    state: text("state", { enum: OPERATION_STATES }).notNull().default("queued"),
    keyId: uuid("key_id").references(() => keys.id, { onDelete: "set null" }),
    kmsId: uuid("kms_id").references(() => kms.id, { onDelete: "set null" }),
    parentId: uuid("parent_id").references((): AnyPgColumn => operations.id, { onDelete: "cascade" }),
    /**
     * The operation's place among its key's operations (1, 2, ...), given at intake under the key row's lock
     * (`keys.op_seq`): the order in which they run, whichever process accepted them and whenever that
     * committed. Null for operations without a key.
     */
    keySeq: bigint("key_seq", { mode: "number" }),
    input: jsonb("input").$type<Record<string, unknown>>().notNull().default({}),
    error: jsonb("error").$type<OperationError>(),
    requestedBy: uuid("requested_by").references(() => apiTokens.id, { onDelete: "set null" }),
    attempts: integer("attempts").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    /**
     * A bulk operation's child not handed to the queue yet: its parent releases children a few at a time per
     * destination, as earlier ones finish, so the queue holds what the destination can take, not 10,000 jobs.
     */
    held: boolean("held").notNull().default(false),
    /** The run holding the operation now, and until when (src/operations/run-lease.ts). */
    runToken: uuid("run_token"),
    runExpiresAt: timestamp("run_expires_at", { withTimezone: true, mode: "date" }),
    /** A running bulk operation was asked to stop: it plans no more children and ends canceled. */
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    index("operations_state_created").on(t.state, t.createdAt),
    // One child per (key, destination) of a bulk operation, however often its planning step is repeated.
    uniqueIndex("operations_parent_key_kms")
      .on(t.parentId, t.keyId, t.kmsId)
      .where(sql`${t.parentId} is not null`),
    index("operations_key").on(t.keyId, t.createdAt),
    uniqueIndex("operations_key_seq").on(t.keyId, t.keySeq),
    // The unfinished operations of a key, in their order: what a run waits for and whom it wakes.
    index("operations_key_unfinished").on(t.keyId, t.keySeq).where(sql`${t.state} in ('queued', 'running')`),
    index("operations_kms").on(t.kmsId, t.createdAt),
    index("operations_parent_state").on(t.parentId, t.state),
    index("operations_parent_held").on(t.parentId, t.kmsId, t.createdAt, t.id).where(sql`${t.held}`),
    index("operations_parent_in_flight")
      .on(t.parentId, t.kmsId)
      .where(sql`not ${t.held} and ${t.state} in ('queued', 'running')`),
    check("operations_type_known", sql`${t.type} in (${sqlList(OPERATION_TYPES)})`),
    check("operations_state_known", sql`${t.state} in (${sqlList(OPERATION_STATES)})`),
  ],
);

/**
 * One named unit of work inside an operation ("generate", "import:v2@aws-prod", ...). `detail` holds
 * what a retry needs to resume (remote ids, intents), never key material or credentials.
 */
export const operationSteps = pgTable(
  "operation_steps",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    operationId: uuid("operation_id")
      .notNull()
      .references(() => operations.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    name: text("name").notNull(),
    state: text("state", { enum: STEP_STATES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("operation_steps_operation_name").on(t.operationId, t.name),
    check("operation_steps_state_known", sql`${t.state} in (${sqlList(STEP_STATES)})`),
  ],
);

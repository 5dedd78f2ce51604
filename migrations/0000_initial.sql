CREATE TABLE "distribution_versions" (
	"distribution_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"remote_id" text NOT NULL,
	"state" text DEFAULT 'enabled' NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "distribution_versions_distribution_id_version_pk" PRIMARY KEY("distribution_id","version"),
	CONSTRAINT "distribution_versions_state_known" CHECK ("distribution_versions"."state" in ('pending', 'enabled', 'disabled', 'removed'))
);
--> statement-breakpoint
CREATE TABLE "distributions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key_id" uuid NOT NULL,
	"kms_id" uuid NOT NULL,
	"purposes" text[] NOT NULL,
	"protection" text NOT NULL,
	"remote_name" text,
	"state" text DEFAULT 'distributing' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "distributions_state_known" CHECK ("distributions"."state" in ('distributing', 'active', 'removing', 'removed', 'failed')),
	CONSTRAINT "distributions_protection_known" CHECK ("distributions"."protection" in ('hsm', 'software')),
	CONSTRAINT "distributions_purposes_known" CHECK ("distributions"."purposes" <@ array['encrypt', 'decrypt', 'sign', 'verify', 'wrap', 'unwrap']::text[]),
	CONSTRAINT "distributions_purposes_present" CHECK (cardinality("distributions"."purposes") > 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_records" (
	"token_id" uuid NOT NULL,
	"key" text NOT NULL,
	"request_hash" "bytea" NOT NULL,
	"state" text DEFAULT 'in_flight' NOT NULL,
	"response_status" integer,
	"response_body" jsonb,
	"operation_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_records_token_id_key_pk" PRIMARY KEY("token_id","key"),
	CONSTRAINT "idempotency_records_state_known" CHECK ("idempotency_records"."state" in ('in_flight', 'completed'))
);
--> statement-breakpoint
CREATE TABLE "key_versions" (
	"key_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"sealed_material" "bytea" NOT NULL,
	"root_key_id" text NOT NULL,
	"public_key" "bytea",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "key_versions_key_id_version_pk" PRIMARY KEY("key_id","version"),
	CONSTRAINT "key_versions_version_positive" CHECK ("key_versions"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"state" text DEFAULT 'creating' NOT NULL,
	"latest_version" integer DEFAULT 0 NOT NULL,
	"min_enabled_version" integer DEFAULT 1 NOT NULL,
	"deletion_allowed" boolean DEFAULT false NOT NULL,
	"rotation_period_seconds" bigint,
	"offline_export" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "keys_name_unique" UNIQUE("name"),
	CONSTRAINT "keys_type_known" CHECK ("keys"."type" in ('aes256-gcm96', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ecdsa-p256', 'ecdsa-p384', 'ecdsa-p521')),
	CONSTRAINT "keys_state_known" CHECK ("keys"."state" in ('creating', 'active', 'deleting', 'deleted')),
	CONSTRAINT "keys_min_enabled_version_positive" CHECK ("keys"."min_enabled_version" >= 1),
	CONSTRAINT "keys_rotation_period_positive" CHECK ("keys"."rotation_period_seconds" is null or "keys"."rotation_period_seconds" > 0)
);
--> statement-breakpoint
CREATE TABLE "kms" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"provider" text NOT NULL,
	"key_collection" text NOT NULL,
	"sealed_credentials" "bytea",
	"credentials_root_key_id" text,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"revision" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kms_name_unique" UNIQUE("name"),
	CONSTRAINT "kms_provider_known" CHECK ("kms"."provider" in ('awskms', 'azurekeyvault')),
	CONSTRAINT "kms_credentials_sealed_with_root_key_id" CHECK (("kms"."sealed_credentials" is null) = ("kms"."credentials_root_key_id" is null))
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"event" text NOT NULL,
	"operation_id" uuid,
	"key_name" text,
	"kms_name" text,
	"actor" text,
	"data" jsonb NOT NULL,
	"prev_hash" "bytea" NOT NULL,
	"hash" "bytea" NOT NULL,
	"chained_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_seq_positive" CHECK ("ledger_entries"."seq" >= 1),
	CONSTRAINT "ledger_entries_hash_length" CHECK (octet_length("ledger_entries"."hash") = 32 and octet_length("ledger_entries"."prev_hash") = 32)
);
--> statement-breakpoint
CREATE TABLE "ledger_pending" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"event" text NOT NULL,
	"operation_id" uuid,
	"key_name" text,
	"kms_name" text,
	"actor" text,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operation_steps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"operation_id" uuid NOT NULL,
	"ordinal" integer NOT NULL,
	"name" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "operation_steps_state_known" CHECK ("operation_steps"."state" in ('pending', 'running', 'succeeded', 'failed', 'skipped'))
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"type" text NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"key_id" uuid,
	"kms_id" uuid,
	"parent_id" uuid,
	"input" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" jsonb,
	"requested_by" uuid,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "operations_type_known" CHECK ("operations"."type" in ('create', 'rotate', 'update', 'delete', 'distribute', 'remove', 'redistribute', 'reconcile')),
	CONSTRAINT "operations_state_known" CHECK ("operations"."state" in ('queued', 'running', 'succeeded', 'failed', 'canceled'))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"operation_id" uuid NOT NULL,
	"queue" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"available_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"secret_hash" "bytea" NOT NULL,
	"prefix" text NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_secret_hash_unique" UNIQUE("secret_hash"),
	CONSTRAINT "api_tokens_role_known" CHECK ("api_tokens"."role" in ('admin', 'operator', 'auditor'))
);
--> statement-breakpoint
ALTER TABLE "distribution_versions" ADD CONSTRAINT "distribution_versions_distribution_id_distributions_id_fk" FOREIGN KEY ("distribution_id") REFERENCES "public"."distributions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_key_id_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."keys"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_kms_id_kms_id_fk" FOREIGN KEY ("kms_id") REFERENCES "public"."kms"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_records" ADD CONSTRAINT "idempotency_records_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_records" ADD CONSTRAINT "idempotency_records_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "key_versions" ADD CONSTRAINT "key_versions_key_id_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operation_steps" ADD CONSTRAINT "operation_steps_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_key_id_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."keys"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_kms_id_kms_id_fk" FOREIGN KEY ("kms_id") REFERENCES "public"."kms"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_parent_id_operations_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."operations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_requested_by_api_tokens_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."api_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_api_tokens_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."api_tokens"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "distributions_live_key_kms" ON "distributions" USING btree ("key_id","kms_id") WHERE "distributions"."state" <> 'removed';--> statement-breakpoint
CREATE INDEX "distributions_kms" ON "distributions" USING btree ("kms_id");--> statement-breakpoint
CREATE INDEX "idempotency_records_expires" ON "idempotency_records" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "ledger_entries_operation" ON "ledger_entries" USING btree ("operation_id","seq");--> statement-breakpoint
CREATE INDEX "ledger_entries_key" ON "ledger_entries" USING btree ("key_name","seq");--> statement-breakpoint
CREATE INDEX "ledger_entries_kms" ON "ledger_entries" USING btree ("kms_name","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "operation_steps_operation_name" ON "operation_steps" USING btree ("operation_id","name");--> statement-breakpoint
CREATE INDEX "operations_state_created" ON "operations" USING btree ("state","created_at");--> statement-breakpoint
CREATE INDEX "operations_key" ON "operations" USING btree ("key_id","created_at");--> statement-breakpoint
CREATE INDEX "operations_kms" ON "operations" USING btree ("kms_id","created_at");--> statement-breakpoint
CREATE INDEX "operations_parent_state" ON "operations" USING btree ("parent_id","state");--> statement-breakpoint
CREATE INDEX "outbox_available" ON "outbox" USING btree ("available_at","id");
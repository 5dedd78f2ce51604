ALTER TABLE "operations" ADD COLUMN "held" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "operations" ADD COLUMN "run_token" uuid;--> statement-breakpoint
ALTER TABLE "operations" ADD COLUMN "run_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "operations" ADD COLUMN "cancel_requested_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "operations_parent_key_kms" ON "operations" USING btree ("parent_id","key_id","kms_id") WHERE "operations"."parent_id" is not null;--> statement-breakpoint
CREATE INDEX "operations_parent_held" ON "operations" USING btree ("parent_id","kms_id","created_at","id") WHERE "operations"."held";--> statement-breakpoint
CREATE INDEX "operations_parent_in_flight" ON "operations" USING btree ("parent_id","kms_id") WHERE not "operations"."held" and "operations"."state" in ('queued', 'running');
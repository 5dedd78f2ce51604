ALTER TABLE "keys" ADD COLUMN "op_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "operations" ADD COLUMN "key_seq" bigint;--> statement-breakpoint
-- Existing operations get their key's order as it was decided before: acceptance time, then id.
UPDATE "operations" AS o SET "key_seq" = n.seq FROM (
  SELECT "id", row_number() OVER (PARTITION BY "key_id" ORDER BY "created_at", "id") AS seq
  FROM "operations" WHERE "key_id" IS NOT NULL
) AS n WHERE o."id" = n."id";--> statement-breakpoint
UPDATE "keys" AS k SET "op_seq" = m.seq FROM (
  SELECT "key_id", max("key_seq") AS seq FROM "operations" WHERE "key_id" IS NOT NULL GROUP BY "key_id"
) AS m WHERE k."id" = m."key_id";--> statement-breakpoint
CREATE UNIQUE INDEX "operations_key_seq" ON "operations" USING btree ("key_id","key_seq");--> statement-breakpoint
CREATE INDEX "operations_key_unfinished" ON "operations" USING btree ("key_id","key_seq") WHERE "operations"."state" in ('queued', 'running');
ALTER TABLE "orders"."orders" ADD COLUMN "request_hash" text;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "response_status" integer;--> statement-breakpoint
ALTER TABLE "orders"."orders" ADD COLUMN "response_body" jsonb;--> statement-breakpoint
CREATE INDEX "sagas_unfinished_idx" ON "orders"."sagas" USING btree ("updated_at") WHERE "orders"."sagas"."finished_at" is null;--> statement-breakpoint
DROP TABLE "orders"."idempotency_keys";

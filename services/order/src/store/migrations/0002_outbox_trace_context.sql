ALTER TABLE "orders"."outbox" ADD COLUMN "trace_context" jsonb;

ALTER TABLE "inventory"."outbox" ADD COLUMN "trace_context" jsonb;

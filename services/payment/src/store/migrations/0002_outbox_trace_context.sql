ALTER TABLE "payment"."outbox" ADD COLUMN "trace_context" jsonb;

CREATE SCHEMA "payment";
--> statement-breakpoint
CREATE TABLE "payment"."attempts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"intent_id" uuid NOT NULL,
	"operation" text NOT NULL,
	"provider_key" text NOT NULL,
	"request_key" text NOT NULL,
	"attempt_no" integer NOT NULL,
	"outcome" text,
	"detail" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "attempts_attempt_no_positive" CHECK ("payment"."attempts"."attempt_no" > 0)
);
--> statement-breakpoint
CREATE TABLE "payment"."intents" (
	"id" uuid PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"currency" text NOT NULL,
	"amount" bigint NOT NULL,
	"status" text NOT NULL,
	"decline_code" text,
	"provider" text NOT NULL,
	"provider_ref" text,
	"captured_amount" bigint DEFAULT 0 NOT NULL,
	"refund_reserved" bigint DEFAULT 0 NOT NULL,
	"refunded_amount" bigint DEFAULT 0 NOT NULL,
	"lease_op" text,
	"lease_until" timestamp with time zone,
	"capture_started_at" timestamp with time zone,
	"capture_key" text,
	"void_key" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "intents_status_known" CHECK ("payment"."intents"."status" in ('PENDING', 'AUTHORIZED', 'DECLINED', 'FAILED', 'CAPTURED', 'VOIDED', 'REFUNDED')),
	CONSTRAINT "intents_currency_iso" CHECK ("payment"."intents"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "intents_amount_positive" CHECK ("payment"."intents"."amount" > 0),
	CONSTRAINT "intents_captured_within_amount" CHECK ("payment"."intents"."captured_amount" >= 0 and "payment"."intents"."captured_amount" <= "payment"."intents"."amount"),
	CONSTRAINT "intents_refund_reserved_within_captured" CHECK ("payment"."intents"."refund_reserved" >= "payment"."intents"."refunded_amount" and "payment"."intents"."refund_reserved" <= "payment"."intents"."captured_amount"),
	CONSTRAINT "intents_refunded_non_negative" CHECK ("payment"."intents"."refunded_amount" >= 0),
	CONSTRAINT "intents_captured_iff_status" CHECK (("payment"."intents"."status" in ('CAPTURED', 'REFUNDED')) = ("payment"."intents"."captured_amount" > 0)),
	CONSTRAINT "intents_refunded_in_full" CHECK ("payment"."intents"."status" <> 'REFUNDED' or "payment"."intents"."refunded_amount" = "payment"."intents"."captured_amount")
);
--> statement-breakpoint
CREATE TABLE "payment"."outbox" (
	"id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "payment"."refunds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"intent_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"provider_ref" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "refunds_amount_positive" CHECK ("payment"."refunds"."amount" > 0),
	CONSTRAINT "refunds_status_known" CHECK ("payment"."refunds"."status" in ('PENDING', 'SUCCEEDED'))
);
--> statement-breakpoint
CREATE TABLE "payment"."webhook_events" (
	"provider" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"payment_id" uuid NOT NULL,
	"outcome" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "webhook_events_provider_event_id_pk" PRIMARY KEY("provider","event_id")
);
--> statement-breakpoint
ALTER TABLE "payment"."attempts" ADD CONSTRAINT "attempts_intent_id_intents_id_fk" FOREIGN KEY ("intent_id") REFERENCES "payment"."intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment"."refunds" ADD CONSTRAINT "refunds_intent_id_intents_id_fk" FOREIGN KEY ("intent_id") REFERENCES "payment"."intents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attempts_intent_id_idx" ON "payment"."attempts" USING btree ("intent_id");--> statement-breakpoint
CREATE INDEX "attempts_provider_key_idx" ON "payment"."attempts" USING btree ("provider_key");--> statement-breakpoint
CREATE UNIQUE INDEX "intents_idempotency_key_key" ON "payment"."intents" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "intents_order_id_idx" ON "payment"."intents" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "intents_one_capture_per_order" ON "payment"."intents" USING btree ("order_id") WHERE "payment"."intents"."status" in ('CAPTURED', 'REFUNDED');--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "payment"."outbox" USING btree ("occurred_at","id") WHERE "payment"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_published_at_idx" ON "payment"."outbox" USING btree ("published_at") WHERE "payment"."outbox"."published_at" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "refunds_intent_key_key" ON "payment"."refunds" USING btree ("intent_id","idempotency_key");
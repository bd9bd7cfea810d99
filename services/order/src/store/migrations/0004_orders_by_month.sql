-- Orders, their lines and their history partitioned by the month of the order's id (docs/sharding.md,
-- "Months inside a shard"). Order ids are UUIDv7: their first 48 bits are the Unix milliseconds they
-- were made at, so a month is the id range [first id of its first millisecond, first id of the next
-- month's). The partition key is then `id` itself: orders keep `id` as their primary key and the
-- lines' and history's foreign keys to it stay. Hand-written: drizzle-kit cannot express partitions.
--
-- One order per (user, Idempotency-Key) cannot be a unique index of a table partitioned by id (its
-- unique indexes must hold the partition key): it moves to orders.order_keys, a small table that is
-- not partitioned, written by the same statement that opens the order (order-store.ts, `open`).
CREATE FUNCTION "orders"."month_bound"("month" date) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
  -- The smallest UUID of the month's first millisecond (UTC): 12 hex digits of milliseconds, then zeros.
  select (lpad(to_hex((extract(epoch from date_trunc('month', "month")::timestamp) * 1000)::bigint), 12, '0') || repeat('0', 20))::uuid
$$;
--> statement-breakpoint
CREATE FUNCTION "orders"."id_month"("id" uuid) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  -- The month (UTC) a UUIDv7 was made in.
  select date_trunc('month', to_timestamp(('x' || substr(replace("id"::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0) at time zone 'UTC')::date
$$;
--> statement-breakpoint
ALTER TABLE "orders"."order_history" DROP CONSTRAINT "order_history_order_id_orders_id_fk";--> statement-breakpoint
ALTER TABLE "orders"."order_lines" DROP CONSTRAINT "order_lines_order_id_orders_id_fk";--> statement-breakpoint
ALTER TABLE "orders"."orders" RENAME TO "orders_unpartitioned";--> statement-breakpoint
ALTER TABLE "orders"."order_lines" RENAME TO "order_lines_unpartitioned";--> statement-breakpoint
ALTER TABLE "orders"."order_history" RENAME TO "order_history_unpartitioned";--> statement-breakpoint
ALTER TABLE "orders"."orders_unpartitioned" DROP CONSTRAINT "orders_pkey";--> statement-breakpoint
DROP INDEX "orders"."orders_user_idempotency_key";--> statement-breakpoint
DROP INDEX "orders"."orders_user_id_idx";--> statement-breakpoint
DROP INDEX "orders"."orders_status_id_idx";--> statement-breakpoint
ALTER TABLE "orders"."order_lines_unpartitioned" DROP CONSTRAINT "order_lines_order_id_sku_pk";--> statement-breakpoint
ALTER TABLE "orders"."order_history_unpartitioned" DROP CONSTRAINT "order_history_pkey";--> statement-breakpoint
DROP INDEX "orders"."order_history_order_idx";--> statement-breakpoint
CREATE TABLE "orders"."orders" (
	"id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"total_amount" bigint NOT NULL,
	"shipping_address" jsonb,
	"idempotency_key" text NOT NULL,
	"cancel_saga_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"request_hash" text,
	"response_status" integer,
	"response_body" jsonb,
	"pay_by" timestamp with time zone,
	CONSTRAINT "orders_pkey" PRIMARY KEY ("id"),
	CONSTRAINT "orders_total_non_negative" CHECK ("total_amount" >= 0),
	CONSTRAINT "orders_status_known" CHECK ("status" in ('PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'))
) PARTITION BY RANGE ("id");
--> statement-breakpoint
CREATE TABLE "orders"."order_lines" (
	"order_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"sku" text NOT NULL,
	"title" text NOT NULL,
	"quantity" integer NOT NULL,
	"unit_amount" bigint NOT NULL,
	"line_amount" bigint NOT NULL,
	CONSTRAINT "order_lines_order_id_sku_pk" PRIMARY KEY ("order_id", "sku"),
	CONSTRAINT "order_lines_quantity_positive" CHECK ("quantity" > 0)
) PARTITION BY RANGE ("order_id");
--> statement-breakpoint
CREATE TABLE "orders"."order_history" (
	"id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "order_history_order_id_id_pk" PRIMARY KEY ("order_id", "id")
) PARTITION BY RANGE ("order_id");
--> statement-breakpoint
-- No foreign key to orders: rows of the default partition move into a new month's partition by a
-- delete and an insert (ensure_month_partition), which a cascade would follow, and a month is
-- archived by detaching partitions, which a reference would refuse. The key is written with its
-- order in one statement and deleted with it (a shard move's clean-up, an archive).
CREATE TABLE "orders"."order_keys" (
	"user_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"order_id" uuid NOT NULL,
	CONSTRAINT "order_keys_pk" PRIMARY KEY ("user_id", "idempotency_key")
);
--> statement-breakpoint
CREATE INDEX "order_keys_order_idx" ON "orders"."order_keys" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "orders_user_id_idx" ON "orders"."orders" USING btree ("user_id", "id");--> statement-breakpoint
CREATE INDEX "orders_status_id_idx" ON "orders"."orders" USING btree ("status", "id");--> statement-breakpoint
CREATE INDEX "order_history_order_idx" ON "orders"."order_history" USING btree ("order_id", "at");--> statement-breakpoint
ALTER TABLE "orders"."order_lines" ADD CONSTRAINT "order_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE cascade;--> statement-breakpoint
ALTER TABLE "orders"."order_history" ADD CONSTRAINT "order_history_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "orders"."orders"("id") ON DELETE cascade;--> statement-breakpoint
-- Rows of a month that has no partition yet (a clock far ahead, an id that is not a UUIDv7) land
-- here rather than failing; ensure_month_partition moves them into their month when it is made.
CREATE TABLE "orders"."orders_default" PARTITION OF "orders"."orders" DEFAULT;--> statement-breakpoint
CREATE TABLE "orders"."order_lines_default" PARTITION OF "orders"."order_lines" DEFAULT;--> statement-breakpoint
CREATE TABLE "orders"."order_history_default" PARTITION OF "orders"."order_history" DEFAULT;--> statement-breakpoint
-- Makes the month's three partitions (orders_y2026m01, order_lines_y2026m01, order_history_y2026m01)
-- unless they exist, moving in the rows the default partitions hold for it. Returns whether it made
-- them. Several instances may call it at once: an advisory lock lets one do the work.
CREATE FUNCTION "orders"."ensure_month_partition"("month" date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', "month")::date;
  suffix text := to_char(date_trunc('month', "month"), '"y"YYYY"m"MM');
  lo uuid := orders.month_bound(first);
  hi uuid := orders.month_bound((first + interval '1 month')::date);
  t text;
BEGIN
  IF to_regclass('orders.orders_' || suffix) IS NOT NULL THEN RETURN false; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('agora:orders:month-partitions'));
  IF to_regclass('orders.orders_' || suffix) IS NOT NULL THEN RETURN false; END IF;
  FOREACH t IN ARRAY ARRAY['orders', 'order_lines', 'order_history'] LOOP
    EXECUTE format('CREATE TABLE orders.%I (LIKE orders.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', t || '_' || suffix, t);
  END LOOP;
  -- Children first: deleting an order from the default partition cascades to the lines and history still there.
  EXECUTE format('WITH m AS (DELETE FROM orders.order_lines_default WHERE order_id >= $1 AND order_id < $2 RETURNING *) INSERT INTO orders.%I SELECT * FROM m', 'order_lines_' || suffix) USING lo, hi;
  EXECUTE format('WITH m AS (DELETE FROM orders.order_history_default WHERE order_id >= $1 AND order_id < $2 RETURNING *) INSERT INTO orders.%I SELECT * FROM m', 'order_history_' || suffix) USING lo, hi;
  EXECUTE format('WITH m AS (DELETE FROM orders.orders_default WHERE id >= $1 AND id < $2 RETURNING *) INSERT INTO orders.%I SELECT * FROM m', 'orders_' || suffix) USING lo, hi;
  FOREACH t IN ARRAY ARRAY['orders', 'order_lines', 'order_history'] LOOP
    EXECUTE format('ALTER TABLE orders.%I ATTACH PARTITION orders.%I FOR VALUES FROM (%L) TO (%L)', t, t || '_' || suffix, lo, hi);
  END LOOP;
  RETURN true;
END
$$;
--> statement-breakpoint
-- The months of the orders already here (UUIDv7 ids; others go to the default partition), and the
-- current month with the three after it (the service makes more ahead as time passes: partitions.ts).
SELECT "orders"."ensure_month_partition"(m) FROM (
  SELECT DISTINCT "orders"."id_month"("id") AS m FROM "orders"."orders_unpartitioned" WHERE substr("id"::text, 15, 1) = '7'
  UNION SELECT generate_series(date_trunc('month', now()), date_trunc('month', now()) + interval '3 months', interval '1 month')::date
) months;
--> statement-breakpoint
INSERT INTO "orders"."orders" ("id", "user_id", "status", "currency", "total_amount", "shipping_address", "idempotency_key", "cancel_saga_id", "created_at", "updated_at", "request_hash", "response_status", "response_body", "pay_by")
SELECT "id", "user_id", "status", "currency", "total_amount", "shipping_address", "idempotency_key", "cancel_saga_id", "created_at", "updated_at", "request_hash", "response_status", "response_body", "pay_by" FROM "orders"."orders_unpartitioned";
--> statement-breakpoint
INSERT INTO "orders"."order_keys" ("user_id", "idempotency_key", "order_id") SELECT "user_id", "idempotency_key", "id" FROM "orders"."orders_unpartitioned";--> statement-breakpoint
INSERT INTO "orders"."order_lines" SELECT "order_id", "position", "sku", "title", "quantity", "unit_amount", "line_amount" FROM "orders"."order_lines_unpartitioned";--> statement-breakpoint
INSERT INTO "orders"."order_history" SELECT "id", "order_id", "status", "reason", "at" FROM "orders"."order_history_unpartitioned";--> statement-breakpoint
DROP TABLE "orders"."order_history_unpartitioned";--> statement-breakpoint
DROP TABLE "orders"."order_lines_unpartitioned";--> statement-breakpoint
DROP TABLE "orders"."orders_unpartitioned";--> statement-breakpoint
-- A shard that was part of a move had the move's guard on its orders (packages/platform/src/sharding/fence.ts):
-- it went with the old table, so the new one gets it back.
DO $$
BEGIN
  IF to_regprocedure('sharding.guard_order_orders_orders()') IS NOT NULL THEN
    CREATE TRIGGER agora_shard_guard BEFORE INSERT OR UPDATE ON orders.orders FOR EACH ROW EXECUTE FUNCTION sharding.guard_order_orders_orders();
  END IF;
END
$$;

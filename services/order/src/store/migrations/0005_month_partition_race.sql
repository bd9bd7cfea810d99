-- ensure_month_partition (0004) checked for the month's partition again after taking its advisory
-- lock with to_regclass, which reads the session's catalog cache: a caller that waited for another
-- one making the same month did not see its table and failed creating it again (42P07). The check
-- after the lock is now a query of pg_class, which reads the committed catalog.
CREATE OR REPLACE FUNCTION "orders"."ensure_month_partition"("month" date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', "month")::date;
  suffix text := to_char(date_trunc('month', "month"), '"y"YYYY"m"MM');
  lo uuid := orders.month_bound(first);
  hi uuid := orders.month_bound((first + interval '1 month')::date);
  t text;
BEGIN
  IF to_regclass('orders.orders_' || suffix) IS NOT NULL THEN RETURN false; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('agora:orders:month-partitions'));
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'orders' AND c.relname = 'orders_' || suffix) THEN
    RETURN false;
  END IF;
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

ALTER TABLE "catalog"."products" ADD COLUMN "min_price" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "products_min_price_id_idx" ON "catalog"."products" USING btree ("min_price","id");--> statement-breakpoint
-- Hand-written below: drizzle-kit cannot express triggers. Every statement on variants refreshes the
-- lowest price of the products it touched, once per statement (a seed of thousands is one UPDATE).
-- Only the branch that runs is planned, so each trigger names just its own transition tables.
CREATE FUNCTION "catalog"."refresh_min_price"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    UPDATE "catalog"."products" AS p
    SET "min_price" = coalesce((SELECT min(v."price_amount") FROM "catalog"."variants" AS v WHERE v."product_id" = p."id"), 0)
    WHERE p."id" IN (SELECT "product_id" FROM changed UNION SELECT "product_id" FROM changed_before);
  ELSE
    UPDATE "catalog"."products" AS p
    SET "min_price" = coalesce((SELECT min(v."price_amount") FROM "catalog"."variants" AS v WHERE v."product_id" = p."id"), 0)
    WHERE p."id" IN (SELECT "product_id" FROM changed);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "variants_min_price_insert" AFTER INSERT ON "catalog"."variants" REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "catalog"."refresh_min_price"();--> statement-breakpoint
CREATE TRIGGER "variants_min_price_update" AFTER UPDATE ON "catalog"."variants" REFERENCING OLD TABLE AS changed_before NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "catalog"."refresh_min_price"();--> statement-breakpoint
CREATE TRIGGER "variants_min_price_delete" AFTER DELETE ON "catalog"."variants" REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION "catalog"."refresh_min_price"();--> statement-breakpoint
UPDATE "catalog"."products" AS p
SET "min_price" = coalesce((SELECT min(v."price_amount") FROM "catalog"."variants" AS v WHERE v."product_id" = p."id"), 0);

CREATE SCHEMA "catalog";
--> statement-breakpoint
CREATE TABLE "catalog"."products" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"category" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', "name" || ' ' || "description" || ' ' || "category")) STORED NOT NULL
);
--> statement-breakpoint
CREATE TABLE "catalog"."variants" (
	"sku" text PRIMARY KEY NOT NULL,
	"product_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"title" text NOT NULL,
	"price_amount" bigint NOT NULL,
	"currency" text NOT NULL,
	CONSTRAINT "variants_price_amount_check" CHECK ("price_amount" >= 0),
	CONSTRAINT "variants_currency_check" CHECK ("currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
ALTER TABLE "catalog"."variants" ADD CONSTRAINT "variants_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "catalog"."products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "products_category_id_idx" ON "catalog"."products" USING btree ("category","id");--> statement-breakpoint
CREATE INDEX "products_search_idx" ON "catalog"."products" USING gin ("search");--> statement-breakpoint
CREATE INDEX "variants_product_id_position_idx" ON "catalog"."variants" USING btree ("product_id","position");
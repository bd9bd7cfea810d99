CREATE SCHEMA "cart";
--> statement-breakpoint
CREATE TABLE "cart"."cart_lines" (
	"user_id" uuid NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cart_lines_user_id_sku_pk" PRIMARY KEY("user_id","sku"),
	CONSTRAINT "cart_lines_quantity_range" CHECK ("cart"."cart_lines"."quantity" between 1 and 99)
);
--> statement-breakpoint
CREATE TABLE "cart"."carts" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cart"."checked_out_orders" (
	"user_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checked_out_orders_user_id_order_id_pk" PRIMARY KEY("user_id","order_id")
);
--> statement-breakpoint
ALTER TABLE "cart"."cart_lines" ADD CONSTRAINT "cart_lines_user_id_carts_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "cart"."carts"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "checked_out_orders_applied_at" ON "cart"."checked_out_orders" USING btree ("applied_at");
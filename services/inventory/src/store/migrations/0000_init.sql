CREATE SCHEMA "inventory";
--> statement-breakpoint
CREATE TABLE "inventory"."stock" (
	"sku" text PRIMARY KEY NOT NULL,
	"on_hand" integer DEFAULT 0 NOT NULL,
	"reserved" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stock_on_hand_non_negative" CHECK ("inventory"."stock"."on_hand" >= 0),
	CONSTRAINT "stock_reserved_non_negative" CHECK ("inventory"."stock"."reserved" >= 0),
	CONSTRAINT "stock_reserved_within_on_hand" CHECK ("inventory"."stock"."reserved" <= "inventory"."stock"."on_hand")
);

CREATE TABLE "inventory"."flash_sale_tickets" (
	"ticket_id" uuid PRIMARY KEY NOT NULL,
	"sale_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"quantity" integer NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flash_sale_tickets_quantity_positive" CHECK ("inventory"."flash_sale_tickets"."quantity" > 0),
	CONSTRAINT "flash_sale_tickets_status_known" CHECK ("inventory"."flash_sale_tickets"."status" in ('TAKEN', 'REFUSED', 'PAID', 'RETURNED'))
);
--> statement-breakpoint
CREATE TABLE "inventory"."flash_sales" (
	"id" uuid PRIMARY KEY NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	"price_amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"per_user_limit" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "flash_sales_quantity_positive" CHECK ("inventory"."flash_sales"."quantity" > 0),
	CONSTRAINT "flash_sales_sold_within_quantity" CHECK ("inventory"."flash_sales"."sold" >= 0 and "inventory"."flash_sales"."sold" <= "inventory"."flash_sales"."quantity"),
	CONSTRAINT "flash_sales_price_non_negative" CHECK ("inventory"."flash_sales"."price_amount" >= 0),
	CONSTRAINT "flash_sales_per_user_limit_positive" CHECK ("inventory"."flash_sales"."per_user_limit" > 0),
	CONSTRAINT "flash_sales_window_ordered" CHECK ("inventory"."flash_sales"."ends_at" > "inventory"."flash_sales"."starts_at")
);
--> statement-breakpoint
ALTER TABLE "inventory"."flash_sale_tickets" ADD CONSTRAINT "flash_sale_tickets_sale_id_flash_sales_id_fk" FOREIGN KEY ("sale_id") REFERENCES "inventory"."flash_sales"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "flash_sale_tickets_sale_user" ON "inventory"."flash_sale_tickets" USING btree ("sale_id","user_id");
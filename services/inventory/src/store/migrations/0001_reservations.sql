CREATE TABLE "inventory"."reservation_lines" (
	"reservation_id" uuid NOT NULL,
	"sku" text NOT NULL,
	"quantity" integer NOT NULL,
	CONSTRAINT "reservation_lines_reservation_id_sku_pk" PRIMARY KEY("reservation_id","sku"),
	CONSTRAINT "reservation_lines_quantity_positive" CHECK ("inventory"."reservation_lines"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "inventory"."reservations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reservations_status_known" CHECK ("inventory"."reservations"."status" in ('HELD', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RESTOCKED'))
);
--> statement-breakpoint
ALTER TABLE "inventory"."reservation_lines" ADD CONSTRAINT "reservation_lines_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "inventory"."reservations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reservations_held_expiry" ON "inventory"."reservations" USING btree ("expires_at") WHERE "inventory"."reservations"."status" = 'HELD';
CREATE TABLE "catalog"."product_image_files" (
	"product_id" uuid NOT NULL,
	"version" text NOT NULL,
	"width" integer NOT NULL,
	"bytes" "bytea" NOT NULL,
	CONSTRAINT "product_image_files_product_id_version_width_pk" PRIMARY KEY("product_id","version","width")
);
--> statement-breakpoint
CREATE TABLE "catalog"."product_images" (
	"product_id" uuid PRIMARY KEY NOT NULL,
	"version" text NOT NULL,
	"alt" text NOT NULL,
	"widths" integer[] NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "product_images_size_check" CHECK ("width" > 0 and "height" > 0)
);
--> statement-breakpoint
ALTER TABLE "catalog"."product_image_files" ADD CONSTRAINT "product_image_files_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "catalog"."products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "catalog"."product_images" ADD CONSTRAINT "product_images_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "catalog"."products"("id") ON DELETE cascade ON UPDATE no action;
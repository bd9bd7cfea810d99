ALTER TABLE "cart"."carts" ADD COLUMN "line_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "cart"."carts" SET "line_count" = (SELECT count(*) FROM "cart"."cart_lines" WHERE "cart"."cart_lines"."user_id" = "cart"."carts"."user_id");--> statement-breakpoint
ALTER TABLE "cart"."carts" ADD CONSTRAINT "carts_line_count_range" CHECK ("cart"."carts"."line_count" between 0 and 100);

-- pg_trgm (trusted since PostgreSQL 13): typo-tolerant search. Hand-written: drizzle-kit cannot express an extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
ALTER TABLE "catalog"."products" ADD COLUMN "search_text" text GENERATED ALWAYS AS ("name" || ' ' || "description") STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "products_search_text_trgm_idx" ON "catalog"."products" USING gin ("search_text" gin_trgm_ops);
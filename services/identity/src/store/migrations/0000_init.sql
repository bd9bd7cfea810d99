CREATE SCHEMA "identity";
--> statement-breakpoint
CREATE TABLE "identity"."login_failures" (
	"email" text PRIMARY KEY NOT NULL,
	"failures" integer NOT NULL,
	"window_started_at" timestamp with time zone NOT NULL,
	CONSTRAINT "login_failures_positive" CHECK ("identity"."login_failures"."failures" > 0)
);
--> statement-breakpoint
CREATE TABLE "identity"."users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"role" text DEFAULT 'customer' NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "users_role_known" CHECK ("identity"."users"."role" in ('customer', 'admin'))
);
--> statement-breakpoint
CREATE INDEX "login_failures_window_started_at_idx" ON "identity"."login_failures" USING btree ("window_started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "identity"."users" USING btree ("email");
CREATE TABLE `policy_routes` (
	`name` text PRIMARY KEY NOT NULL,
	`definition` text NOT NULL,
	`position` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `acl_rules` ADD `route` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `route` text;
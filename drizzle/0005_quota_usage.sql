CREATE TABLE `quota_usage` (
	`subject` text NOT NULL,
	`period_start_ms` integer NOT NULL,
	`node_id` integer NOT NULL,
	`boot` text NOT NULL,
	`bytes` integer NOT NULL,
	`updated_at_ms` integer NOT NULL,
	PRIMARY KEY(`subject`, `period_start_ms`, `node_id`, `boot`)
);
--> statement-breakpoint
ALTER TABLE `policy_groups` ADD `quota` text;--> statement-breakpoint
ALTER TABLE `policy_users` ADD `quota` text;--> statement-breakpoint
ALTER TABLE `qos_settings` ADD `quota_timezone` text;
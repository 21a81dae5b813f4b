CREATE TABLE `auth_method_scopes` (
	`scope` text NOT NULL,
	`name` text NOT NULL,
	`method` text NOT NULL,
	`group_source` text DEFAULT 'policy' NOT NULL,
	`updated_at_ms` integer NOT NULL,
	PRIMARY KEY(`scope`, `name`)
);
--> statement-breakpoint
ALTER TABLE `nodes` ADD `auth_problem` text;
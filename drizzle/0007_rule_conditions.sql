ALTER TABLE `acl_rules` ADD `sources` text;--> statement-breakpoint
ALTER TABLE `acl_rules` ADD `schedule` text;--> statement-breakpoint
ALTER TABLE `acl_rules` ADD `close_at_window_end` integer DEFAULT false NOT NULL;
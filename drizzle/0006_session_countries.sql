ALTER TABLE `sessions` ADD `destination_country` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `client_country` text;
CREATE TABLE `admins` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`disabled_at_ms` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admins_name_unique` ON `admins` (`name`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`admin_id` integer NOT NULL,
	`label` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`last_used_at_ms` integer,
	`revoked_at_ms` integer,
	FOREIGN KEY (`admin_id`) REFERENCES `admins`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_admin_idx` ON `api_tokens` (`admin_id`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at_ms` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text NOT NULL,
	`before` text,
	`after` text,
	`snapshot_version` integer
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at_ms`);--> statement-breakpoint
CREATE TABLE `fleet` (
	`id` integer PRIMARY KEY NOT NULL,
	`epoch` text NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `acl_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_kind` text NOT NULL,
	`owner_name` text NOT NULL,
	`action` text NOT NULL,
	`description` text,
	`destinations` text NOT NULL,
	`ports` text NOT NULL,
	`protocols` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`position` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `acl_settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`default_policy` text NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `auth_settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`methods` text NOT NULL,
	`anonymous_user` text NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `node_commands` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`node_id` integer NOT NULL,
	`command_json` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`delivered_at_ms` integer,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `node_commands_pending_idx` ON `node_commands` (`node_id`,`delivered_at_ms`);--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`region` text NOT NULL,
	`enrollment_token_hash` text,
	`enrollment_expires_at_ms` integer,
	`node_token_hash` text,
	`created_at_ms` integer NOT NULL,
	`enrolled_at_ms` integer,
	`last_seen_at_ms` integer,
	`software_version` text,
	`public_address` text,
	`sent_version` integer,
	`sent_epoch` text,
	`sent_at_ms` integer,
	`applied_version` integer,
	`applied_epoch` text,
	`applied_at_ms` integer,
	`rejected_version` integer,
	`rejected_epoch` text,
	`rejection_reason` text,
	`counters` text,
	`active_sessions_json` text,
	`active_sessions_truncated` integer DEFAULT false NOT NULL,
	`disabled_at_ms` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `nodes_name_unique` ON `nodes` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `nodes_enrollment_token_hash_unique` ON `nodes` (`enrollment_token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `nodes_node_token_hash_unique` ON `nodes` (`node_token_hash`);--> statement-breakpoint
CREATE TABLE `policy_groups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`max_connections_per_user` integer,
	`qos_guaranteed_bytes_per_sec` integer,
	`qos_max_bytes_per_sec` integer,
	`qos_burst_bytes` integer,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `policy_groups_name_unique` ON `policy_groups` (`name`);--> statement-breakpoint
CREATE TABLE `policy_users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username` text NOT NULL,
	`password_hash` text,
	`enabled` integer DEFAULT true NOT NULL,
	`groups` text NOT NULL,
	`max_connections` integer,
	`qos_guaranteed_bytes_per_sec` integer,
	`qos_max_bytes_per_sec` integer,
	`qos_burst_bytes` integer,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `policy_users_username_unique` ON `policy_users` (`username`);--> statement-breakpoint
CREATE TABLE `qos_settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`global_bytes_per_sec` integer,
	`guaranteed_bytes_per_sec` integer,
	`max_bytes_per_sec` integer,
	`burst_bytes` integer,
	`fair_sharing` integer DEFAULT true NOT NULL,
	`max_connections_per_user` integer,
	`max_connections_global` integer,
	`max_connections_per_client` integer,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`seq` integer PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`node_id` integer,
	`node` text,
	`region` text,
	`user` text NOT NULL,
	`client_address` text NOT NULL,
	`client_port` integer NOT NULL,
	`protocol` text,
	`transport` text NOT NULL,
	`command` text,
	`destination_host` text,
	`destination_address` text,
	`destination_address_key` text,
	`destination_port` integer,
	`started_at_ms` integer NOT NULL,
	`ended_at_ms` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`bytes_up` integer NOT NULL,
	`bytes_down` integer NOT NULL,
	`bytes_total` integer NOT NULL,
	`packets_up` integer NOT NULL,
	`packets_down` integer NOT NULL,
	`status` text NOT NULL,
	`decision` text,
	`rule_id` text,
	`close_reason` text NOT NULL,
	`ingested_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sessions_id_unique` ON `sessions` (`id`);--> statement-breakpoint
CREATE INDEX `sessions_started_idx` ON `sessions` (`started_at_ms`);--> statement-breakpoint
CREATE INDEX `sessions_user_started_idx` ON `sessions` (`user`,`started_at_ms`);--> statement-breakpoint
CREATE INDEX `sessions_destination_host_started_idx` ON `sessions` (`destination_host`,`started_at_ms`);--> statement-breakpoint
CREATE INDEX `sessions_destination_address_key_idx` ON `sessions` (`destination_address_key`);--> statement-breakpoint
CREATE TABLE `snapshots` (
	`version` integer PRIMARY KEY NOT NULL,
	`epoch` text NOT NULL,
	`hash` text NOT NULL,
	`snapshot_json` text NOT NULL,
	`created_by` text NOT NULL,
	`summary` text NOT NULL,
	`created_at_ms` integer NOT NULL
);

CREATE TABLE `session_rollup_cursor` (
	`id` integer PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `session_rollups` (
	`dimension` text NOT NULL,
	`grain_ms` integer NOT NULL,
	`bucket_ms` integer NOT NULL,
	`key` text NOT NULL,
	`node` text NOT NULL,
	`region` text NOT NULL,
	`sessions` integer NOT NULL,
	`bytes_up` integer NOT NULL,
	`bytes_down` integer NOT NULL,
	`rejected` integer NOT NULL,
	`failed` integer NOT NULL,
	`allowed` integer NOT NULL,
	`blocked` integer NOT NULL,
	`last_seq` integer NOT NULL,
	PRIMARY KEY(`dimension`, `grain_ms`, `bucket_ms`, `key`, `node`, `region`)
);

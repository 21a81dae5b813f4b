-- Custom SQL migration file, put your code below! --
-- drizzle-kit cannot declare WITHOUT ROWID tables: rebuild session_rollups as one (its primary
-- key is then the table itself, so a window's rows are one range scan and an upsert touches one
-- b-tree), and create the cursor row. Existing sessions are counted by the rollup passes the
-- control plane runs in the background (readers add the not yet counted ones from `sessions`).
CREATE TABLE `__new_session_rollups` (
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
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_session_rollups` SELECT * FROM `session_rollups`;
--> statement-breakpoint
DROP TABLE `session_rollups`;
--> statement-breakpoint
ALTER TABLE `__new_session_rollups` RENAME TO `session_rollups`;
--> statement-breakpoint
INSERT INTO `session_rollup_cursor` (`id`, `seq`) VALUES (1, 0);

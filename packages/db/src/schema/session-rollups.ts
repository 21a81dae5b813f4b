import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * What a rollup row is counted by, besides node and region: nothing, the user, the host, or the
 * destination's country.
 */
export const SESSION_ROLLUP_DIMENSIONS = ["node", "user", "host", "country"] as const;
export type SessionRollupDimension = (typeof SESSION_ROLLUP_DIMENSIONS)[number];

/** Rollup bucket widths, finest first: a minute, an hour and a day (UTC, epoch-aligned). */
export const SESSION_ROLLUP_GRAINS_MS = [60_000, 3_600_000, 86_400_000] as const;

/**
 * The grains stored for each dimension. Per user and per host a minute holds about one session
 * per row, so minute rows would be as many as the sessions themselves: readers aggregate those
 * minutes from `sessions` (and may cache them).
 */
export const SESSION_ROLLUP_STORED_GRAINS_MS: Readonly<
  Record<SessionRollupDimension, readonly number[]>
> = {
  node: SESSION_ROLLUP_GRAINS_MS,
  user: [3_600_000, 86_400_000],
  host: [3_600_000, 86_400_000],
  country: [3_600_000, 86_400_000],
};

/**
 * Sessions counted per time bucket (by start time) for stats.summary, one row per dimension,
 * grain, bucket, key, node and region. A row covers the sessions with `seq` up to
 * session_rollup_cursor's; newer ones are still only in `sessions`, and readers add them from
 * there. The migration makes the table WITHOUT ROWID, so a window's rows are one range scan.
 */
export const sessionRollups = sqliteTable(
  "session_rollups",
  {
    dimension: text("dimension", { enum: SESSION_ROLLUP_DIMENSIONS }).notNull(),
    grainMs: integer("grain_ms").notNull(),
    /** Start of the bucket, a multiple of grainMs. */
    bucketMs: integer("bucket_ms").notNull(),
    /** The user (dimension `user`), the destination host (`host`), its country (`country`), or "" (`node`). */
    key: text("key").notNull(),
    /** The session's node and region; "" where the session has none. */
    node: text("node").notNull(),
    region: text("region").notNull(),
    sessions: integer("sessions").notNull(),
    bytesUp: integer("bytes_up").notNull(),
    bytesDown: integer("bytes_down").notNull(),
    rejected: integer("rejected").notNull(),
    failed: integer("failed").notNull(),
    /** ACL decisions. */
    allowed: integer("allowed").notNull(),
    blocked: integer("blocked").notNull(),
    /** The cursor of the rollup pass that last changed the row: a version for readers' caches. */
    lastSeq: integer("last_seq").notNull(),
  },
  (t) => [primaryKey({ columns: [t.dimension, t.grainMs, t.bucketMs, t.key, t.node, t.region] })],
);

/** One row (id 1): sessions with seq at most `seq` are counted in session_rollups. */
export const sessionRollupCursor = sqliteTable("session_rollup_cursor", {
  id: integer("id").primaryKey(),
  seq: integer("seq").notNull(),
});

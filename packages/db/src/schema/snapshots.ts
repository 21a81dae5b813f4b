import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Every published policy snapshot; the newest version is what relays should run. */
export const snapshots = sqliteTable("snapshots", {
  version: integer("version").primaryKey(),
  epoch: text("epoch").notNull(),
  hash: text("hash").notNull(),
  /** The sealed PolicySnapshot as JSON text. */
  snapshotJson: text("snapshot_json").notNull(),
  /** Admin name, or "system". */
  createdBy: text("created_by").notNull(),
  /** What produced it, e.g. `users.create alice` or `rollback to 3`. */
  summary: text("summary").notNull(),
  createdAtMs: integer("created_at_ms").notNull(),
});

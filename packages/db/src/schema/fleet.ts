import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * One row per database: the fleet epoch. Snapshots carry it so a relay that meets a restored or
 * replaced database resyncs instead of refusing every version as "old".
 */
export const fleet = sqliteTable("fleet", {
  id: integer("id").primaryKey(),
  epoch: text("epoch").notNull(),
  createdAtMs: integer("created_at_ms").notNull(),
});

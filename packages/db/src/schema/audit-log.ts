import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Every change made through the admin API: who, what, before and after. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    atMs: integer("at_ms").notNull(),
    actor: text("actor").notNull(),
    /** The procedure, e.g. `users.update`. */
    action: text("action").notNull(),
    /** What it changed, e.g. `user alice`. */
    target: text("target").notNull(),
    before: text("before", { mode: "json" }),
    after: text("after", { mode: "json" }),
    /** The snapshot version the change produced, if any. */
    snapshotVersion: integer("snapshot_version"),
  },
  (t) => [index("audit_log_at_idx").on(t.atMs)],
);

import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Bytes each relay process spent per quota subject (`user:alice`, `group:dev`) and period, as its
 * heartbeats report them: a live count that only grows within one relay process (`boot`), so a
 * row keeps the largest value reported and a restarted relay starts a row of its own. The fleet's
 * usage of a period is the sum of its rows.
 */
export const quotaUsage = sqliteTable(
  "quota_usage",
  {
    subject: text("subject").notNull(),
    /** First instant of the period (ms since the epoch), as the relay computed it. */
    periodStartMs: integer("period_start_ms").notNull(),
    nodeId: integer("node_id").notNull(),
    /** The relay process (a UUID per start). */
    boot: text("boot").notNull(),
    bytes: integer("bytes").notNull(),
    updatedAtMs: integer("updated_at_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.subject, t.periodStartMs, t.nodeId, t.boot] })],
);

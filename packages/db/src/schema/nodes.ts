import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Live counters from a relay's latest heartbeat. */
export interface NodeCounters {
  connectionsActive: number;
  sessionsActive: number;
  sessionsTotal: number;
  bytesUp: number;
  bytesDown: number;
  rejectedTotal: number;
  spoolBacklogBytes: number;
  /** Records in the relay's quarantine file (absent from relays older than the field). */
  quarantinedRecords?: number;
}

/** Relays enrolled in the fleet. */
export const nodes = sqliteTable("nodes", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  region: text("region").notNull(),
  /** sha256 of the one-time `ese_…` token; null once exchanged. */
  enrollmentTokenHash: text("enrollment_token_hash").unique(),
  enrollmentExpiresAtMs: integer("enrollment_expires_at_ms"),
  /** sha256 of the long-lived `esn_…` token; null until enrolled. */
  nodeTokenHash: text("node_token_hash").unique(),
  createdAtMs: integer("created_at_ms").notNull(),
  enrolledAtMs: integer("enrolled_at_ms"),
  lastSeenAtMs: integer("last_seen_at_ms"),
  softwareVersion: text("software_version"),
  publicAddress: text("public_address"),
  /** Newest version sent on config.watch, and when. */
  sentVersion: integer("sent_version"),
  sentEpoch: text("sent_epoch"),
  sentAtMs: integer("sent_at_ms"),
  /** Newest version the relay acked as applied. */
  appliedVersion: integer("applied_version"),
  appliedEpoch: text("applied_epoch"),
  appliedAtMs: integer("applied_at_ms"),
  /** The latest rejection; cleared when a newer version is applied. */
  rejectedVersion: integer("rejected_version"),
  rejectedEpoch: text("rejected_epoch"),
  rejectionReason: text("rejection_reason"),
  /**
   * Why the relay cannot run the authentication method its snapshot gives it (no PAM service
   * file, keytab unreadable...), as it last reported; null: it can. Such a node shows as ERROR.
   */
  authProblem: text("auth_problem"),
  counters: text("counters", { mode: "json" }).$type<NodeCounters>(),
  /** Sessions open at the latest heartbeat (wire ActiveSession[] as JSON text). */
  activeSessionsJson: text("active_sessions_json"),
  activeSessionsTruncated: integer("active_sessions_truncated", { mode: "boolean" })
    .notNull()
    .default(false),
  disabledAtMs: integer("disabled_at_ms"),
  /** The only public addresses the node may report (set at enrollment); null: any routable host:port. */
  publicAddresses: text("public_addresses", { mode: "json" }).$type<string[]>(),
});

/** Commands for relays (nodes.commands); any control-plane instance the relay is on delivers them. */
export const nodeCommands = sqliteTable(
  "node_commands",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    nodeId: integer("node_id")
      .notNull()
      .references(() => nodes.id, { onDelete: "cascade" }),
    /** wire NodeCommand as JSON text. */
    commandJson: text("command_json").notNull(),
    createdAtMs: integer("created_at_ms").notNull(),
    deliveredAtMs: integer("delivered_at_ms"),
  },
  (t) => [index("node_commands_pending_idx").on(t.nodeId, t.deliveredAtMs)],
);

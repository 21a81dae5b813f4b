import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const SESSION_STATUSES = ["closed", "failed", "rejected"] as const;
export const SESSION_COMMANDS = ["connect", "bind", "udp"] as const;

/**
 * Ended sessions as relays report them (DESIGN.md "Session records"), plus the node and region
 * of the relay's token. Times are epoch milliseconds so range scans use plain integer indexes.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    /** rowid alias: the tie-breaker for cursor pagination. */
    seq: integer("seq").primaryKey(),
    /** UUID made by the relay; the idempotency key of ingest. */
    id: text("id").notNull().unique(),
    nodeId: integer("node_id"),
    node: text("node"),
    region: text("region"),
    user: text("user").notNull(),
    clientAddress: text("client_address").notNull(),
    clientPort: integer("client_port").notNull(),
    protocol: text("protocol", { enum: ["socks4", "socks4a", "socks5"] }),
    transport: text("transport", { enum: ["tcp", "tls"] }).notNull(),
    command: text("command", { enum: SESSION_COMMANDS }),
    destinationHost: text("destination_host"),
    destinationAddress: text("destination_address"),
    /** The resolved address as 32 hex digits of its IPv6 form (IPv4 mapped): CIDR filters are ranges. */
    destinationAddressKey: text("destination_address_key"),
    destinationPort: integer("destination_port"),
    /** ISO 3166-1 alpha-2 of the destination and client addresses, from the relay's GeoIP database. */
    destinationCountry: text("destination_country"),
    clientCountry: text("client_country"),
    startedAtMs: integer("started_at_ms").notNull(),
    endedAtMs: integer("ended_at_ms").notNull(),
    durationMs: integer("duration_ms").notNull(),
    bytesUp: integer("bytes_up").notNull(),
    bytesDown: integer("bytes_down").notNull(),
    /** bytesUp + bytesDown, stored for sorting and filtering. */
    bytesTotal: integer("bytes_total").notNull(),
    packetsUp: integer("packets_up").notNull(),
    packetsDown: integer("packets_down").notNull(),
    status: text("status", { enum: SESSION_STATUSES }).notNull(),
    decision: text("decision", { enum: ["allow", "block"] }),
    ruleId: text("rule_id"),
    closeReason: text("close_reason").notNull(),
    /** Connections the row stands for: relays fold rejected-before-request ones per minute. */
    count: integer("count").notNull().default(1),
    ingestedAtMs: integer("ingested_at_ms").notNull(),
    /** The upstream route taken (`name#chain`); null: direct. */
    route: text("route"),
  },
  // Every index slows ingest, so only filters that can be rare get one: node, region, status and
  // decision have few values and ride the started_at index (a page of 50 is found quickly).
  (t) => [
    index("sessions_started_idx").on(t.startedAtMs),
    index("sessions_user_started_idx").on(t.user, t.startedAtMs),
    index("sessions_destination_host_started_idx").on(t.destinationHost, t.startedAtMs),
    index("sessions_destination_address_key_idx").on(t.destinationAddressKey),
  ],
);

import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A traffic quota as stored (checked by the policy package's Quota schema on every write). */
export interface StoredQuota {
  bytes: number;
  period: "day" | "week" | "month" | "rolling_24h" | "rolling_7d" | "rolling_30d";
  direction: "total" | "up" | "down";
  onExhaust: "close" | "throttle";
  throttleBytesPerSec?: number;
}

/** A rule's time window as stored (checked by the policy package's Schedule schema on every write). */
export interface StoredSchedule {
  days?: string[];
  times?: string[];
  timezone?: string;
}

/** Proxy users (not admins): what `users` in a policy snapshot is built from. */
export const policyUsers = sqliteTable("policy_users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  username: text("username").notNull().unique(),
  /** argon2id PHC string; null: the user cannot log in with a password. */
  passwordHash: text("password_hash"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  /** Group names, in order. */
  groups: text("groups", { mode: "json" }).$type<string[]>().notNull(),
  maxConnections: integer("max_connections"),
  qosGuaranteedBytesPerSec: integer("qos_guaranteed_bytes_per_sec"),
  qosMaxBytesPerSec: integer("qos_max_bytes_per_sec"),
  qosBurstBytes: integer("qos_burst_bytes"),
  /** Traffic quota (the snapshot's Quota as JSON); null: none. */
  quota: text("quota", { mode: "json" }).$type<StoredQuota>(),
  createdAtMs: integer("created_at_ms").notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

export const policyGroups = sqliteTable("policy_groups", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  maxConnectionsPerUser: integer("max_connections_per_user"),
  qosGuaranteedBytesPerSec: integer("qos_guaranteed_bytes_per_sec"),
  qosMaxBytesPerSec: integer("qos_max_bytes_per_sec"),
  qosBurstBytes: integer("qos_burst_bytes"),
  /** Traffic quota shared by all members; null: none. */
  quota: text("quota", { mode: "json" }).$type<StoredQuota>(),
  createdAtMs: integer("created_at_ms").notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

/** ACL rules, owned by a user or a group (by name, as in the snapshot). */
export const aclRules = sqliteTable("acl_rules", {
  /** Stable id, named by decisions and session records. */
  id: text("id").primaryKey(),
  ownerKind: text("owner_kind", { enum: ["user", "group"] }).notNull(),
  ownerName: text("owner_name").notNull(),
  action: text("action", { enum: ["allow", "block"] }).notNull(),
  description: text("description"),
  destinations: text("destinations", { mode: "json" }).$type<string[]>().notNull(),
  ports: text("ports", { mode: "json" }).$type<string[]>().notNull(),
  protocols: text("protocols", { mode: "json" }).$type<("tcp" | "udp" | "both")[]>().notNull(),
  priority: integer("priority").notNull().default(0),
  /** Client IPs, CIDRs or `country:XX` the rule applies to; null: every client. */
  sources: text("sources", { mode: "json" }).$type<string[]>(),
  /** When the rule applies; null: always. */
  schedule: text("schedule", { mode: "json" }).$type<StoredSchedule>(),
  /** Sessions this rule allowed are closed when its schedule's window ends. */
  closeAtWindowEnd: integer("close_at_window_end", { mode: "boolean" }).notNull().default(false),
  /** Order in the snapshot: breaks ties between rules of equal action and priority. */
  position: integer("position").notNull(),
  /** The `policy_routes` name this allow rule's CONNECTs go through; null: direct. */
  route: text("route"),
  createdAtMs: integer("created_at_ms").notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

/** An upstream route as stored: the snapshot's Route without its name (checked on every write). */
export interface StoredRoute {
  resolve: "local" | "remote";
  selector: "failover" | "round" | "random";
  maxFails: number;
  failTimeoutSecs: number;
  chains: { proxyProtocol?: "v1" | "v2"; hops: Record<string, unknown>[] }[];
}

/** Upstream proxy routes that rules name (the snapshot's `routes`). */
export const policyRoutes = sqliteTable("policy_routes", {
  name: text("name").primaryKey(),
  /** Everything but the name, as JSON (hops with their own credentials). */
  definition: text("definition", { mode: "json" }).$type<StoredRoute>().notNull(),
  /** Order in the snapshot. */
  position: integer("position").notNull(),
  createdAtMs: integer("created_at_ms").notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

/** One row (id = 1): global ACL switches. */
export const aclSettings = sqliteTable("acl_settings", {
  id: integer("id").primaryKey(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  defaultPolicy: text("default_policy", { enum: ["allow", "block"] }).notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

/** One row (id = 1): how clients authenticate. */
export const authSettings = sqliteTable("auth_settings", {
  id: integer("id").primaryKey(),
  methods: text("methods", { mode: "json" }).$type<("none" | "userpass")[]>().notNull(),
  anonymousUser: text("anonymous_user").notNull(),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

/**
 * Fleet mode: the SOCKS method relays use, by scope. One `fleet` row (name "") is the default;
 * `region` and `node` rows override it, the node's over its region's. No row for a relay: it
 * offers auth_settings.methods.
 */
export const authMethodScopes = sqliteTable(
  "auth_method_scopes",
  {
    scope: text("scope", { enum: ["fleet", "region", "node"] }).notNull(),
    /** The region or node name; "" for the fleet default. */
    name: text("name").notNull(),
    method: text("method", {
      enum: ["none", "userpass", "pam.username", "pam.address", "gssapi"],
    }).notNull(),
    groupSource: text("group_source", { enum: ["policy", "nss"] })
      .notNull()
      .default("policy"),
    updatedAtMs: integer("updated_at_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.name] })],
);

/** One row (id = 1): fleet-wide bandwidth shaping and connection limits. */
export const qosSettings = sqliteTable("qos_settings", {
  id: integer("id").primaryKey(),
  enabled: integer("enabled", { mode: "boolean" }).notNull(),
  globalBytesPerSec: integer("global_bytes_per_sec"),
  guaranteedBytesPerSec: integer("guaranteed_bytes_per_sec"),
  maxBytesPerSec: integer("max_bytes_per_sec"),
  burstBytes: integer("burst_bytes"),
  fairSharing: integer("fair_sharing", { mode: "boolean" }).notNull().default(true),
  maxConnectionsPerUser: integer("max_connections_per_user"),
  maxConnectionsGlobal: integer("max_connections_global"),
  maxConnectionsPerClient: integer("max_connections_per_client"),
  /** IANA time zone of quota days, weeks and months; null: UTC. */
  quotaTimezone: text("quota_timezone"),
  updatedAtMs: integer("updated_at_ms").notNull(),
});

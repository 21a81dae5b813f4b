import { z } from "zod";

/**
 * The REST API's parameters and answers. Field names and shapes follow RustSocks' API where
 * both have the field, so scripts written against RustSocks work unchanged; extra fields are ours.
 */

const WholeNumber = z
  .string()
  .regex(/^[0-9]{1,9}$/, "must be a whole number")
  .transform(Number);

export const RestSession = z
  .strictObject({
    id: z.uuid(),
    user: z.string(),
    source_ip: z.string(),
    source_port: z.int(),
    /** The destination as the client asked for it (host name or IP). Null: no valid request. */
    dest_ip: z.string().nullable(),
    dest_port: z.int().nullable(),
    protocol: z.enum(["tcp", "udp"]),
    status: z.enum(["active", "closed", "failed", "rejected", "rejected_by_acl"]),
    acl_decision: z.enum(["allow", "block", "none"]),
    acl_rule: z.string().nullable(),
    bytes_sent: z.int(),
    bytes_received: z.int(),
    start_time: z.iso.datetime({ offset: true }),
    end_time: z.iso.datetime({ offset: true }).nullable(),
    duration_seconds: z.int().nullable(),
    /** Ours: the relay, its region, the resolved address, the SOCKS command, why it ended. */
    node: z.string().nullable(),
    region: z.string().nullable(),
    dest_address: z.string().nullable(),
    command: z.enum(["connect", "bind", "udp"]).nullable(),
    close_reason: z.string().nullable(),
  })
  .meta({ id: "RestSession" });
export type RestSession = z.infer<typeof RestSession>;

export const HistoryQuery = z.strictObject({
  user: z.string().min(1).max(255).optional(),
  /** Sessions that ended in the last this many hours. */
  hours: WholeNumber.optional(),
  /** The host or IP as the client asked for it, or the resolved IP (exact match). */
  dest_ip: z.string().min(1).max(255).optional(),
  status: z.enum(["closed", "failed", "rejected", "rejected_by_acl"]).optional(),
  /** @default 1 */
  page: WholeNumber.optional(),
  /** @default 50, at most 1000 */
  page_size: WholeNumber.optional(),
});

export const HistoryPage = z
  .strictObject({
    data: z.array(RestSession),
    total: z.int(),
    page: z.int(),
    page_size: z.int(),
    total_pages: z.int(),
  })
  .meta({ id: "RestSessionPage" });

export const StatsQuery = z.strictObject({
  /** The window, in hours back from now. @default 24 */
  hours: WholeNumber.optional(),
});

const Top = { session_count: z.int(), bytes: z.int() };
export const SessionStats = z.strictObject({
  total_sessions: z.int(),
  active_sessions: z.int(),
  closed_sessions: z.int(),
  failed_sessions: z.int(),
  rejected_sessions: z.int(),
  total_bytes_sent: z.int(),
  total_bytes_received: z.int(),
  /** Ours has one byte total per entry (up + down), not RustSocks' sent/received split. */
  top_users: z.array(z.strictObject({ user: z.string(), ...Top })),
  top_destinations: z.array(z.strictObject({ destination: z.string(), ...Top })),
  window_start: z.iso.datetime({ offset: true }),
  window_end: z.iso.datetime({ offset: true }),
});

export const UserSessionsQuery = z.strictObject({
  /** @default 1000 (newest first) */
  limit: WholeNumber.optional(),
});

export const AclRulesSummary = z.strictObject({
  user_count: z.int(),
  group_count: z.int(),
  message: z.string(),
  rules: z.array(
    z.strictObject({
      id: z.string(),
      user_or_group: z.string(),
      owner_kind: z.enum(["user", "group"]),
      action: z.enum(["allow", "block"]),
      description: z.string(),
      destinations: z.array(z.string()),
      ports: z.array(z.string()),
      protocols: z.array(z.enum(["tcp", "udp", "both"])),
      priority: z.int(),
      /** Ours, as in acl.toml: client IPs, CIDRs or `country:XX`; absent: every client. */
      sources: z.array(z.string()).optional(),
      /** Ours, as in acl.toml: days, times and timezone; absent: always. */
      schedule: z
        .strictObject({
          days: z.array(z.string()).optional(),
          times: z.array(z.string()).optional(),
          timezone: z.string().optional(),
        })
        .optional(),
      /** Ours, as in acl.toml; absent: false. */
      close_at_window_end: z.boolean().optional(),
    }),
  ),
});

export const AclTestBody = z.strictObject({
  user: z.string().min(1).max(255),
  destination: z.string().min(1).max(255),
  port: z.int().min(0).max(65535),
  /** @default "tcp" */
  protocol: z.enum(["tcp", "udp"]).optional(),
  /** Ours: the resolved address of a host name, so IP and CIDR rules can match it. */
  address: z.string().max(64).optional(),
  /** Ours: the client's IP, for rules with `sources`. */
  client: z.string().max(64).optional(),
  /** Ours: the instant schedules are evaluated at (ISO 8601). @default now */
  at: z.string().max(64).optional(),
  /** Ours: the ISO 3166-1 country to take for the client (the control plane has no GeoIP). */
  client_country: z.string().max(2).optional(),
  /** Ours: the ISO 3166-1 country to take for the destination's address. */
  destination_country: z.string().max(2).optional(),
});

export const AclTestResult = z.strictObject({
  user: z.string(),
  destination: z.string(),
  port: z.int(),
  protocol: z.enum(["tcp", "udp"]),
  decision: z.enum(["allow", "block"]),
  /** The deciding rule's id; null when the default policy decided. */
  matched_rule: z.string().nullable(),
  /** Ours: why, in words, and the snapshot version decided against. */
  reason: z.string(),
  version: z.int(),
  /** Ours: the instant schedules were evaluated at. */
  at: z.iso.datetime({ offset: true }),
});

export const ReloadResult = z.strictObject({
  success: z.literal(true),
  message: z.string(),
  /** The new snapshot version relays are sent. */
  version: z.int(),
});

/** Every error: RustSocks' ErrorResponse, with our stable code in `error`. */
export const RestError = z
  .strictObject({ error: z.string(), message: z.string(), status_code: z.int() })
  .meta({ id: "RestError" });

export const NoQuery = z.strictObject({});

import { text } from "@edgesocks/policy/text";
import { z } from "zod";

/**
 * Messages between relays and the control plane that are not policy
 * snapshots (those are @edgesocks/policy's PolicySnapshot). Zod only: the
 * relay imports this without pulling in any server code. Every text field is
 * text(): well-formed Unicode without control characters, with a length bound.
 */

const isoDate = z.iso.datetime({ offset: true });

/** An ISO 3166-1 alpha-2 country code, as the relay's GeoIP database gives it: two capitals. */
export const CountryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code (two capitals)");

/** Longest text of each text field of a session record (the relay cuts its records to these). */
export const SESSION_RECORD_TEXT_MAX = {
  node: 255,
  region: 255,
  user: 255,
  clientAddress: 64,
  destinationHost: 255,
  destinationAddress: 64,
  ruleId: 255,
  closeReason: 255,
  route: 100,
} as const;
const max = SESSION_RECORD_TEXT_MAX;

/**
 * A new session's id: a UUIDv7 (RFC 9562 §5.7) of its start time. A relay's ids then reach the
 * control plane in about the order they were made, so the unique index on them grows at its end
 * instead of at random pages (with random v4 ids ingest is about a quarter slower). The record
 * schema accepts any UUID: relays of older versions send v4.
 */
export function sessionId(startedAtMs: number): string {
  const ms = Math.max(0, Math.trunc(startedAtMs));
  if (ms !== idPrefixMs) {
    // Sessions of one millisecond share the prefix: made once per millisecond, not per session.
    const time = ms.toString(16).padStart(12, "0");
    idPrefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
    idPrefixMs = ms;
  }
  // A v4's last 19 characters are random but for its variant bits, which v7 shares.
  return idPrefix + crypto.randomUUID().slice(15);
}
let idPrefixMs = -1;
let idPrefix = "";

/** One ended session, as a relay records it (DESIGN.md "Session records"). */
export const SessionRecord = z.object({
  id: z.uuid(),
  node: text({ max: max.node }).nullable(),
  region: text({ max: max.region }).nullable(),
  user: text({ max: max.user }),
  clientAddress: text({ max: max.clientAddress }),
  clientPort: z.int().min(0).max(65535),
  protocol: z.enum(["socks4", "socks4a", "socks5"]).nullable(),
  transport: z.enum(["tcp", "tls"]),
  /** null when the connection never got as far as a valid request. */
  command: z.enum(["connect", "bind", "udp"]).nullable(),
  destinationHost: text({ max: max.destinationHost }).nullable(),
  destinationAddress: text({ max: max.destinationAddress }).nullable(),
  destinationPort: z.int().min(0).max(65535).nullable(),
  startedAt: isoDate,
  endedAt: isoDate,
  durationMs: z.int().min(0),
  bytesUp: z.int().min(0),
  bytesDown: z.int().min(0),
  /** TCP: read/write chunks; UDP: datagrams. */
  packetsUp: z.int().min(0),
  packetsDown: z.int().min(0),
  status: z.enum(["closed", "failed", "rejected"]),
  decision: z.enum(["allow", "block"]).nullable(),
  ruleId: text({ max: max.ruleId }).nullable(),
  closeReason: text({ max: max.closeReason }),
  /** The destination address's country; absent when no GeoIP database is loaded or it has none. */
  destinationCountry: CountryCode.optional(),
  /** The client address's country; absent likewise. */
  clientCountry: CountryCode.optional(),
  /**
   * Connections this record stands for (default 1): the relay folds connections turned away
   * before their SOCKS request into one record per reason, client address and minute.
   */
  count: z.int().min(1).optional(),
  /**
   * The upstream route the session went through, `name#chain` (chain: 0-based index of the
   * route's chain that carried it), or `name` when no chain was tried. Absent: direct.
   */
  route: text({ max: max.route }).nullable().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

/** Largest ingest batch the control plane accepts. */
export const MAX_INGEST_BATCH = 1000;

export const IngestInput = z.object({
  records: z.array(SessionRecord).min(1).max(MAX_INGEST_BATCH),
});
export const IngestOutput = z.object({ inserted: z.int(), duplicates: z.int() });

/** A session open on a relay now, as reported in heartbeats. */
export const ActiveSession = z.object({
  id: z.uuid(),
  user: text({ max: 255 }),
  clientAddress: text({ max: 64 }),
  clientPort: z.int().min(0).max(65535),
  command: z.enum(["connect", "bind", "udp"]).nullable(),
  transport: z.enum(["tcp", "tls"]),
  destinationHost: text({ max: 255 }).nullable(),
  destinationAddress: text({ max: 64 }).nullable(),
  destinationPort: z.int().min(0).max(65535).nullable(),
  startedAt: isoDate,
  bytesUp: z.int().min(0),
  bytesDown: z.int().min(0),
});
export type ActiveSession = z.infer<typeof ActiveSession>;

/** Quota subjects a heartbeat reports, or its answer carries, at most. */
export const MAX_QUOTA_REPORTS = 20_000;

/** What one relay process spent of one quota in one period. */
export const QuotaUsageReport = z.object({
  /** `user:NAME` or `group:NAME`. */
  subject: text({ min: 1, max: 300 }),
  /** First instant of the period, ms since the epoch. */
  periodStartMs: z.int().min(0),
  bytes: z.int().min(0),
});

/** Bounded: a relay reports at most this many active sessions per heartbeat (the biggest by bytes). */
export const MAX_HEARTBEAT_SESSIONS = 2000;

export const HeartbeatInput = z.object({
  softwareVersion: text({ max: 64 }),
  publicAddress: text({ max: 300 }).nullable(),
  appliedVersion: z.int().nullable(),
  epoch: text({ max: 100 }).nullable(),
  counters: z.object({
    connectionsActive: z.int().min(0),
    sessionsActive: z.int().min(0),
    sessionsTotal: z.int().min(0),
    bytesUp: z.int().min(0),
    bytesDown: z.int().min(0),
    rejectedTotal: z.int().min(0),
    spoolBacklogBytes: z.int().min(0),
    /** Records in the relay's quarantine file: refused by ingest or unreadable in the spool. */
    quarantinedRecords: z.int().min(0).default(0),
  }),
  activeSessions: z.array(ActiveSession).max(MAX_HEARTBEAT_SESSIONS),
  /** True when activeSessions was cut to the cap. */
  activeSessionsTruncated: z.boolean(),
  /**
   * Why the relay cannot run the auth method of the snapshot it holds (it refuses logins);
   * null: it can. Absent: an older relay.
   */
  authProblem: text({ max: 1000 }).nullable().optional(),
  /** Traffic quota use counted by this relay process (absent: older relays). */
  quota: z
    .object({
      /** The relay process: a new UUID per start, so a restarted relay's count starts anew. */
      boot: z.uuid(),
      usage: z.array(QuotaUsageReport).max(MAX_QUOTA_REPORTS),
    })
    .optional(),
});
export type HeartbeatInput = z.infer<typeof HeartbeatInput>;

/** The fleet's count of one quota, for a relay's own check: what every other relay process spent. */
export const QuotaVerdict = z.object({
  subject: text({ min: 1, max: 300 }),
  periodStartMs: z.int().min(0),
  othersBytes: z.int().min(0),
  /** The fleet's total reached the quota. */
  exhausted: z.boolean(),
});
export type QuotaVerdict = z.infer<typeof QuotaVerdict>;

export const HeartbeatOutput = z.object({
  serverTime: isoDate,
  /** Every quota of the policy in force, as the fleet counts it (absent: an older control plane). */
  quotas: z.array(QuotaVerdict).max(MAX_QUOTA_REPORTS).optional(),
});

export const ConfigWatchInput = z.object({
  /** The version the relay holds (null: none). */
  version: z.int().nullable(),
  /** The fleet epoch of that version; a different epoch means a full resync. */
  epoch: text({ max: 100 }).nullable(),
  /** tRPC tracked() resume id, set by the client on reconnect. */
  lastEventId: text({ max: 200 }).nullish(),
});

/** What config.watch yields; `snapshot` is validated by the relay with @edgesocks/policy. */
export const ConfigEvent = z.object({
  version: z.int(),
  epoch: text({ max: 100 }),
  snapshot: z.unknown(),
});
export type ConfigEvent = z.infer<typeof ConfigEvent>;

export const ConfigAckInput = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("applied"),
    version: z.int(),
    epoch: text({ max: 100 }),
    /** As in heartbeats: the version is in force, but its auth method cannot run here. */
    authProblem: text({ max: 1000 }).nullable().optional(),
  }),
  z.object({
    status: z.literal("rejected"),
    version: z.int(),
    epoch: text({ max: 100 }),
    reason: text({ max: 4000, multiline: true }),
  }),
]);
export type ConfigAckInput = z.infer<typeof ConfigAckInput>;

/** Commands the control plane sends a relay through nodes.commands. */
export const NodeCommand = z.discriminatedUnion("type", [
  z.object({ type: z.literal("terminate"), sessionId: z.uuid(), by: text({ max: 255 }) }),
  /** The fleet spent these quotas: refuse and close at once (the next heartbeat confirms). */
  z.object({
    type: z.literal("quota_exhausted"),
    quotas: z.array(z.object({ subject: text({ min: 1, max: 300 }), periodStartMs: z.int() })),
  }),
  /** An operator reset a quota: its period starts over at zero on every relay. */
  z.object({
    type: z.literal("quota_reset"),
    subject: text({ min: 1, max: 300 }),
    by: text({ max: 255 }),
  }),
]);
export type NodeCommand = z.infer<typeof NodeCommand>;

export const ExchangeInput = z.object({
  enrollmentToken: text({ min: 1, max: 200 }),
  softwareVersion: text({ max: 64 }),
  publicAddress: text({ max: 300 }).nullable(),
});
export const ExchangeOutput = z.object({
  nodeToken: text({ max: 200 }),
  name: text({ max: 255 }),
  region: text({ max: 255 }),
});

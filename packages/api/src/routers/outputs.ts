import { ADMIN_ROLES } from "@edgesocks/db/schema";
import { z } from "zod";
import { CONFIG_STATUSES } from "../services/node-status";
import { HeartbeatInput } from "../wire";

/**
 * What each procedure returns, as zod schemas: tRPC checks every answer against them (so they
 * cannot drift from the code) and the OpenAPI document is generated from them. Strict objects:
 * a field a procedure starts returning must be declared here first. They state shapes, not the
 * input rules (text(), patterns): a value an older version stored must still read back.
 */

const isoDate = z.iso.datetime({ offset: true });
const Protocols = z.array(z.enum(["tcp", "udp", "both"]));

/** A rule's time window (@edgesocks/policy Schedule). */
const ScheduleView = z
  .strictObject({
    days: z.array(z.string()).optional(),
    times: z.array(z.string()).optional(),
    timezone: z.string().optional(),
  })
  .meta({ id: "RuleSchedule" });

/** An ACL rule as a snapshot holds it (@edgesocks/policy AclRule). */
const AclRule = z
  .strictObject({
    id: z.string(),
    owner: z.strictObject({ kind: z.enum(["user", "group"]), name: z.string() }),
    action: z.enum(["allow", "block"]),
    description: z.string().optional(),
    destinations: z.array(z.string()),
    ports: z.array(z.string()),
    protocols: Protocols,
    priority: z.int(),
    sources: z.array(z.string()).optional(),
    schedule: ScheduleView.optional(),
    closeAtWindowEnd: z.boolean().optional(),
    route: z.string().optional(),
  })
  .meta({ id: "SnapshotRule" });

/** What every view of a route hop shows (@edgesocks/policy RouteHop, bar its password). */
export const RouteHopFields = {
  type: z.enum(["socks5", "socks4a", "http"]),
  host: z.string(),
  port: z.int(),
  username: z.string().optional(),
  userId: z.string().optional(),
};

/** An upstream route's fields (@edgesocks/policy Route), each hop shown as `hop`. */
export function routeFields<Hop extends z.ZodType>(hop: Hop) {
  return {
    name: z.string(),
    resolve: z.enum(["local", "remote"]),
    selector: z.enum(["failover", "round", "random"]),
    maxFails: z.int(),
    failTimeoutSecs: z.int(),
    chains: z.array(
      z.strictObject({
        /** The PROXY header the chain writes to its first hop; absent: none. */
        proxyProtocol: z.enum(["v1", "v2"]).optional(),
        hops: z.array(hop),
      }),
    ),
  };
}

/** An upstream route as the snapshot has it: hops with their passwords (redacted for viewers). */
const SnapshotRoute = z
  .strictObject(routeFields(z.strictObject({ ...RouteHopFields, password: z.string().optional() })))
  .meta({ id: "SnapshotRoute" });

const SnapshotQos = z.strictObject({
  guaranteedBytesPerSec: z.int().optional(),
  maxBytesPerSec: z.int().optional(),
  burstBytes: z.int().optional(),
});
/** A traffic quota (@edgesocks/policy Quota). */
export const QuotaView = z
  .strictObject({
    bytes: z.int(),
    period: z.enum(["day", "week", "month", "rolling_24h", "rolling_7d", "rolling_30d"]),
    direction: z.enum(["total", "up", "down"]),
    onExhaust: z.enum(["close", "throttle"]),
    throttleBytesPerSec: z.int().optional(),
  })
  .meta({ id: "Quota" });
const SnapshotUser = z.strictObject({
  username: z.string(),
  /** argon2id PHC string; `$argon2id$redacted` for a viewer. */
  passwordHash: z.string().optional(),
  password: z.string().optional(),
  enabled: z.boolean(),
  groups: z.array(z.string()),
  maxConnections: z.int().optional(),
  qos: SnapshotQos.optional(),
  quota: QuotaView.optional(),
});
const SnapshotGroup = z.strictObject({
  name: z.string(),
  qos: SnapshotQos.optional(),
  maxConnectionsPerUser: z.int().optional(),
  quota: QuotaView.optional(),
});

const SocksMethodOut = z.enum(["none", "userpass", "pam.username", "pam.address", "gssapi"]);
const AuthAssignmentOut = z.strictObject({
  method: SocksMethodOut,
  groupSource: z.enum(["policy", "nss"]),
});
/** auth.scopes as a snapshot holds them (the group source may be left out there). */
const SnapshotAuthScopes = z.strictObject({
  default: AuthAssignmentOut.partial({ groupSource: true }).optional(),
  regions: z.record(z.string(), AuthAssignmentOut.partial({ groupSource: true })).optional(),
  nodes: z.record(z.string(), AuthAssignmentOut.partial({ groupSource: true })).optional(),
});

/** A policy snapshot as stored and pushed (@edgesocks/policy PolicySnapshot). */
const PolicySnapshot = z
  .strictObject({
    version: z.int(),
    hash: z.string(),
    epoch: z.string(),
    createdAt: isoDate,
    auth: z.strictObject({
      methods: z.array(z.enum(["none", "userpass"])),
      anonymousUser: z.string(),
      scopes: SnapshotAuthScopes.optional(),
    }),
    acl: z.strictObject({ enabled: z.boolean(), defaultPolicy: z.enum(["allow", "block"]) }),
    users: z.array(SnapshotUser),
    groups: z.array(SnapshotGroup),
    rules: z.array(AclRule),
    qos: z.strictObject({
      enabled: z.boolean(),
      globalBytesPerSec: z.int().optional(),
      guaranteedBytesPerSec: z.int().optional(),
      maxBytesPerSec: z.int().optional(),
      burstBytes: z.int().optional(),
      fairSharing: z.boolean(),
      maxConnectionsPerUser: z.int().optional(),
      maxConnectionsGlobal: z.int().optional(),
      maxConnectionsPerClient: z.int().optional(),
    }),
    quotaTimezone: z.string().optional(),
    routes: z.array(SnapshotRoute).optional(),
  })
  .meta({ id: "PolicySnapshot" });
const Version = z.int().min(0).meta({ description: "The snapshot version the change produced." });

export const VersionOutput = z.strictObject({ version: Version });

export const WhoamiOutput = z.strictObject({ name: z.string(), role: z.enum(ADMIN_ROLES) });

export const AdminView = z.strictObject({
  name: z.string(),
  role: z.enum(ADMIN_ROLES),
  createdAt: isoDate.nullable(),
  disabled: z.boolean(),
  tokens: z.array(
    z.strictObject({
      id: z.int(),
      label: z.string(),
      createdAt: isoDate.nullable(),
      revokedAt: isoDate.nullable(),
    }),
  ),
});
export const AdminCreateOutput = z.strictObject({
  name: z.string(),
  role: z.enum(ADMIN_ROLES),
  /** Shown once. */
  token: z.string(),
});
export const TokenCreateOutput = z.strictObject({ id: z.int(), token: z.string() });
export const TokenRevokeOutput = z.strictObject({ revoked: z.literal(true) });

const QosOverride = z.strictObject({
  guaranteedBytesPerSec: z.int().nullable(),
  maxBytesPerSec: z.int().nullable(),
  burstBytes: z.int().nullable(),
});

export const UserView = z
  .strictObject({
    username: z.string(),
    enabled: z.boolean(),
    groups: z.array(z.string()),
    maxConnections: z.int().nullable(),
    qos: QosOverride,
    quota: QuotaView.nullable(),
    hasPassword: z.boolean(),
  })
  .meta({ id: "User" });
export const UserChangeOutput = z.strictObject({ version: Version, user: UserView });

export const GroupState = z
  .strictObject({
    name: z.string(),
    maxConnectionsPerUser: z.int().nullable(),
    qos: QosOverride,
    quota: QuotaView.nullable(),
  })
  .meta({ id: "Group" });
export const GroupView = GroupState.extend({ members: z.array(z.string()) }).meta({
  id: "GroupWithMembers",
});
export const GroupChangeOutput = z.strictObject({ version: Version, group: GroupState });

export const RuleView = z
  .strictObject({
    id: z.string(),
    owner: z.strictObject({ kind: z.enum(["user", "group"]), name: z.string() }),
    action: z.enum(["allow", "block"]),
    description: z.string().nullable(),
    destinations: z.array(z.string()),
    ports: z.array(z.string()),
    protocols: Protocols,
    priority: z.int(),
    /** Client IPs, CIDRs or `country:XX` the rule applies to; null: every client. */
    sources: z.array(z.string()).nullable(),
    /** When the rule applies; null: always. */
    schedule: ScheduleView.nullable(),
    /** Sessions the rule allowed are closed when its window ends. */
    closeAtWindowEnd: z.boolean(),
    /** The route this allow rule's CONNECTs go through; null: direct. */
    route: z.string().nullable(),
    /** Index in the rule list. */
    position: z.int(),
  })
  .meta({ id: "Rule" });
export const RuleChangeOutput = z.strictObject({ version: Version, rule: RuleView });

export const QosSettings = z.strictObject({
  enabled: z.boolean(),
  globalBytesPerSec: z.int().nullable(),
  guaranteedBytesPerSec: z.int().nullable(),
  maxBytesPerSec: z.int().nullable(),
  burstBytes: z.int().nullable(),
  fairSharing: z.boolean(),
  maxConnectionsPerUser: z.int().nullable(),
  maxConnectionsGlobal: z.int().nullable(),
  maxConnectionsPerClient: z.int().nullable(),
});
export const QosChangeOutput = z.strictObject({ version: Version, qos: QosSettings });

export const AuthSettings = z.strictObject({
  methods: z.array(z.enum(["none", "userpass"])),
  anonymousUser: z.string(),
});
export const AuthChangeOutput = z.strictObject({ version: Version, auth: AuthSettings });

/** Which method relays use: the fleet default (null: auth.methods), region and node overrides. */
export const AuthScopes = z
  .strictObject({
    default: AuthAssignmentOut.nullable(),
    regions: z.record(z.string(), AuthAssignmentOut),
    nodes: z.record(z.string(), AuthAssignmentOut),
  })
  .meta({ id: "AuthScopes" });
export const AuthScopesChangeOutput = z.strictObject({ version: Version, scopes: AuthScopes });

export const AclSettings = z.strictObject({
  enabled: z.boolean(),
  defaultPolicy: z.enum(["allow", "block"]),
});
export const AclChangeOutput = z.strictObject({ version: Version, acl: AclSettings });

export const AclTestOutput = z.strictObject({
  /** The snapshot version decided against. */
  version: z.int(),
  /** The instant schedules were evaluated at. */
  at: isoDate,
  userKnown: z.boolean(),
  decision: z.strictObject({
    action: z.enum(["allow", "block"]),
    ruleId: z.string().nullable(),
    reason: z.string(),
  }),
  rule: AclRule.nullable(),
  considered: z.array(z.strictObject({ rule: AclRule, matched: z.boolean() })),
});

const SnapshotMeta = z.strictObject({
  version: z.int(),
  epoch: z.string(),
  hash: z.string(),
  createdBy: z.string(),
  summary: z.string(),
  createdAt: isoDate,
});
export const SnapshotListOutput = z.strictObject({
  items: z.array(SnapshotMeta),
  nextBefore: z.int().nullable(),
});
export const SnapshotGetOutput = SnapshotMeta.extend({ snapshot: PolicySnapshot });

const listDiff = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    added: z.array(item),
    removed: z.array(item),
    changed: z.array(z.strictObject({ before: item, after: item })),
  });
/** A user as a diff shows it: the hash is "set" (or absent), never its text. */
const DiffUser = SnapshotUser.omit({ passwordHash: true }).extend({
  passwordHash: z.enum(["set", "changed"]).optional(),
});
export const SnapshotDiffOutput = z.strictObject({
  from: z.int(),
  to: z.int(),
  users: listDiff(DiffUser),
  groups: listDiff(SnapshotGroup),
  rules: listDiff(AclRule),
  rulesReordered: z.boolean(),
  settings: z.record(z.string(), z.strictObject({ before: z.unknown(), after: z.unknown() })),
});
export const RollbackOutput = z.strictObject({ version: Version, restoredFrom: z.int() });

/** The whole editable policy, in the shape policy.import takes back (never a hash). */
export const PolicyExportOutput = z
  .strictObject({
    version: z.int().min(0).meta({ description: "The newest snapshot version." }),
    users: z.array(UserView),
    groups: z.array(GroupState),
    rules: z.array(RuleView.omit({ position: true })),
    acl: AclSettings,
    auth: AuthSettings,
    qos: QosSettings,
  })
  .meta({ id: "PolicyExport" });
/** An import: the version it made, or with dryRun the diff it would make (and no version). */
export const PolicyImportOutput = z.union([
  z.strictObject({ version: Version, diff: z.null() }),
  z.strictObject({ version: z.null(), diff: SnapshotDiffOutput }),
]);

/** What a relay reports of a session open now (wire ActiveSession). */
const ActiveFields = {
  id: z.string(),
  user: z.string(),
  clientAddress: z.string(),
  clientPort: z.int(),
  command: z.enum(["connect", "bind", "udp"]).nullable(),
  transport: z.enum(["tcp", "tls"]),
  destinationHost: z.string().nullable(),
  destinationAddress: z.string().nullable(),
  destinationPort: z.int().nullable(),
  startedAt: isoDate,
  bytesUp: z.int(),
  bytesDown: z.int(),
};

/** A stored session: the relay's record (wire SessionRecord) plus when it was ingested. */
export const SessionView = z
  .strictObject({
    ...ActiveFields,
    node: z.string().nullable(),
    region: z.string().nullable(),
    protocol: z.enum(["socks4", "socks4a", "socks5"]).nullable(),
    /** ISO 3166-1 alpha-2, from the relay's GeoIP database; null without one. */
    destinationCountry: z.string().nullable(),
    clientCountry: z.string().nullable(),
    endedAt: isoDate,
    durationMs: z.int(),
    packetsUp: z.int(),
    packetsDown: z.int(),
    status: z.enum(["closed", "failed", "rejected"]),
    decision: z.enum(["allow", "block"]).nullable(),
    ruleId: z.string().nullable(),
    closeReason: z.string(),
    /** Connections the record stands for: a relay folds rejected-before-request ones per minute. */
    count: z.int().min(1),
    /** The upstream route taken (`name#chain`, or `name` when no chain was tried); null: direct. */
    route: z.string().nullable(),
    ingestedAt: isoDate,
  })
  .meta({ id: "Session" });
export const SessionPage = z.strictObject({
  items: z.array(SessionView),
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export const ActiveSessionsOutput = z.strictObject({
  items: z.array(z.strictObject({ ...ActiveFields, node: z.string(), region: z.string() })),
  total: z.int(),
  /** Nodes that reported only their biggest sessions. */
  truncatedNodes: z.array(z.string()),
});
export const TerminateOutput = z.strictObject({ node: z.string(), sent: z.literal(true) });

const Ranked = { sessions: z.int(), bytes: z.int() };
export const StatsSummaryOutput = z.strictObject({
  from: isoDate,
  to: isoDate,
  bucketMs: z.int(),
  totals: z.strictObject({
    sessions: z.int(),
    bytesUp: z.int(),
    bytesDown: z.int(),
    rejected: z.int(),
    failed: z.int(),
    aclAllow: z.int(),
    aclBlock: z.int(),
  }),
  byNode: z.array(
    z.strictObject({
      node: z.string().nullable(),
      region: z.string().nullable(),
      ...Ranked,
      rejected: z.int(),
    }),
  ),
  byRegion: z.array(z.strictObject({ region: z.string(), ...Ranked, rejected: z.int() })),
  topUsersByBytes: z.array(z.strictObject({ user: z.string(), ...Ranked })),
  topUsersBySessions: z.array(z.strictObject({ user: z.string(), ...Ranked })),
  topDestinations: z.array(z.strictObject({ host: z.string(), ...Ranked })),
  /** Destination countries by bytes; null with a `user` filter (not counted per user). */
  topCountries: z.array(z.strictObject({ country: z.string(), ...Ranked })).nullable(),
  series: z.array(z.strictObject({ at: isoDate, ...Ranked, rejected: z.int() })),
});

export const NodeView = z
  .strictObject({
    id: z.int(),
    name: z.string(),
    region: z.string(),
    enrolled: z.boolean(),
    enrollmentPending: z.boolean(),
    /** Disabled: its token does not work; it is left out of /proxy.pac and config alerts. */
    disabled: z.boolean(),
    /** The only public addresses it may report (enrollment); null: any routable HOST:PORT. */
    publicAddresses: z.array(z.string()).nullable(),
    createdAt: isoDate.nullable(),
    enrolledAt: isoDate.nullable(),
    lastSeenAt: isoDate.nullable(),
    online: z.boolean(),
    watching: z.boolean(),
    softwareVersion: z.string().nullable(),
    publicAddress: z.string().nullable(),
    configStatus: z.enum(CONFIG_STATUSES),
    /** Why the node is ERROR: it rejected its last snapshot, or cannot run its auth method. */
    rejectionReason: z.string().nullable(),
    /** The method the newest snapshot gives this node and which scope set it; null: auth.methods. */
    authMethod: AuthAssignmentOut.extend({ scope: z.enum(["node", "region", "fleet"]) }).nullable(),
    /** What the relay reported it lacks to run its method (it refuses logins meanwhile). */
    authProblem: z.string().nullable(),
    newestVersion: z.int().nullable(),
    sentVersion: z.int().nullable(),
    appliedVersion: z.int().nullable(),
    appliedEpoch: z.string().nullable(),
    rejectedVersion: z.int().nullable(),
    counters: HeartbeatInput.shape.counters.nullable(),
    activeSessions: z.int(),
    activeSessionsTruncated: z.boolean(),
  })
  .meta({ id: "Node" });
export const EnrollOutput = z.strictObject({
  node: NodeView,
  /** One-time `ese_…` token, shown once. */
  enrollmentToken: z.string(),
});

export const OkOutput = z.strictObject({ ok: z.literal(true) });

export const AuditPage = z.strictObject({
  items: z.array(
    z.strictObject({
      id: z.int(),
      at: isoDate,
      actor: z.string(),
      action: z.string(),
      target: z.string(),
      before: z.unknown(),
      after: z.unknown(),
      snapshotVersion: z.int().nullable(),
    }),
  ),
  nextCursor: z.int().nullable(),
});

/** One quota's fleet-wide use in the period in force. */
export const QuotaUsageView = z
  .strictObject({
    subject: z.string().meta({ description: "`user:NAME` or `group:NAME`" }),
    kind: z.enum(["user", "group"]),
    name: z.string(),
    quota: QuotaView,
    /** The first instant counted (a rolling window: its oldest bucket). */
    periodStart: isoDate,
    /** When the period (a rolling window: its bucket in progress) ends. */
    periodEnd: isoDate,
    /** Sum over every relay's reports for this period. */
    usedBytes: z.int(),
    exhausted: z.boolean(),
  })
  .meta({ id: "QuotaUsage" });
export const QuotaUsageOutput = z.strictObject({
  timeZone: z.string(),
  quotas: z.array(QuotaUsageView),
});
export const QuotaSetOutput = z.strictObject({ version: Version, quota: QuotaView.nullable() });
export const QuotaResetOutput = z.strictObject({
  subject: z.string(),
  periodStart: isoDate,
  nodesTold: z.int(),
});

import { createHash } from "node:crypto";
import { z } from "zod";
import { parseDestination } from "./acl/destination";
import { parsePortSpec } from "./acl/ports";
import { RelayAuthScopes } from "./auth-scope";
import { canonicalJson } from "./canonical-json";
import { formatIssues } from "./issues";
import { Quota, TimeZone } from "./quota/quota";
import { Route } from "./route";
import { CLOSE_NEEDS_SCHEDULE, RouteName, Schedule, SourcePattern } from "./rule-schema";
import { text } from "./text";

function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** A username or group name: 1 to 255 bytes of UTF-8 (the RFC 1929 limit for usernames). */
const Name = text({ min: 1, max: 255 }).refine(
  (name) => utf8Length(name) <= 255,
  "must be at most 255 bytes of UTF-8",
);

const Count = z.int().min(0);
const BytesPerSec = z.int().min(1);

const DestinationPattern = text({ max: 300 }).superRefine((pattern, ctx) => {
  const parsed = parseDestination(pattern);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
});

const PortSpec = text({ max: 1000 }).superRefine((spec, ctx) => {
  const parsed = parsePortSpec(spec);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
});

export const Protocol = z.enum(["tcp", "udp", "both"]);

/** One ACL rule, owned by a user or a group. */
export const AclRule = z
  .strictObject({
    /** Stable and unique within the snapshot; decisions and session records name it. */
    id: text({ min: 1, max: 1000 }),
    owner: z.strictObject({ kind: z.enum(["user", "group"]), name: Name }),
    action: z.enum(["allow", "block"]),
    description: text({ max: 4000 }).optional(),
    /** IPv4/IPv6 address, CIDR, exact domain, `*.domain`, inner wildcard (`api.*.com`) or `*`. */
    destinations: z.array(DestinationPattern).min(1),
    /** "443", "8000-9000", "80,443,8080" or "*". */
    ports: z.array(PortSpec).min(1),
    /** @default ["both"] */
    protocols: z.array(Protocol).min(1).default(["both"]),
    /** Higher is considered first among rules of the same action. @default 0 */
    priority: z.int().default(0),
    /** Client IPs, CIDRs or `country:XX` the rule applies to. @default every client */
    sources: z.array(SourcePattern).min(1).optional(),
    /** The rule matches only inside this window. @default always */
    schedule: Schedule.optional(),
    /** Sessions this rule allowed are closed when its window ends. @default false */
    closeAtWindowEnd: z.boolean().optional(),
    /** The snapshot's route (`routes[].name`) this rule's CONNECTs go through. @default direct */
    route: RouteName.optional(),
  })
  .refine((rule) => !rule.closeAtWindowEnd || rule.schedule !== undefined, {
    path: ["closeAtWindowEnd"],
    message: CLOSE_NEEDS_SCHEDULE,
  })
  .refine((rule) => rule.route === undefined || rule.action === "allow", {
    path: ["route"],
    message: "only an allow rule can name a route (a block rule reaches nothing)",
  });
export type AclRule = z.infer<typeof AclRule>;
export { Schedule, SourcePattern };

/** Per-user or per-group bandwidth shaping. */
export const Qos = z.strictObject({
  guaranteedBytesPerSec: Count.optional(),
  maxBytesPerSec: BytesPerSec.optional(),
  burstBytes: BytesPerSec.optional(),
});

export const PolicyUser = z.strictObject({
  username: Name,
  /** argon2id PHC string. */
  passwordHash: text({ max: 1024 })
    .startsWith("$argon2id$", 'must be an argon2id hash ("$argon2id$...")')
    .optional(),
  /** Plaintext, for standalone mode only (a `password = "..."` in rustsocks.toml). */
  password: text({ max: 1024 }).optional(),
  /** @default true */
  enabled: z.boolean().default(true),
  /** @default [] */
  groups: z.array(Name).default([]),
  maxConnections: Count.optional(),
  qos: Qos.optional(),
  /** Traffic quota of this user alone. Optional, not defaulted: older snapshots keep their hash. */
  quota: Quota.optional(),
});

export const PolicyGroup = z.strictObject({
  name: Name,
  qos: Qos.optional(),
  maxConnectionsPerUser: Count.optional(),
  /** Traffic quota shared by all members together. */
  quota: Quota.optional(),
});

export const QosSettings = z.strictObject({
  enabled: z.boolean(),
  globalBytesPerSec: BytesPerSec.optional(),
  guaranteedBytesPerSec: Count.optional(),
  maxBytesPerSec: BytesPerSec.optional(),
  burstBytes: BytesPerSec.optional(),
  /** @default true */
  fairSharing: z.boolean().default(true),
  maxConnectionsPerUser: Count.optional(),
  maxConnectionsGlobal: Count.optional(),
  maxConnectionsPerClient: Count.optional(),
});

function firstSeen<T>(
  items: readonly T[],
  key: (item: T) => string,
  report: (index: number, first: number, value: string) => void,
): Map<string, number> {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    const value = key(item);
    const first = seen.get(value);
    if (first === undefined) seen.set(value, index);
    else report(index, first, value);
  });
  return seen;
}

/** Everything a relay enforces, as one JSON document. */
export const PolicySnapshot = z
  .strictObject({
    /** Strictly increasing across snapshots of one control plane. */
    version: z.int().min(0),
    /** sha256 (hex) of the canonical JSON of everything else; see snapshotHash(). */
    hash: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits (sha256)"),
    /** Identifies the control plane database the versions count in. */
    epoch: text({ min: 1, max: 100 }),
    createdAt: z.iso.datetime({ offset: true }),
    auth: z.strictObject({
      methods: z.array(z.enum(["none", "userpass"])).min(1),
      /** The username unauthenticated clients are evaluated as. @default "anonymous" */
      anonymousUser: Name.default("anonymous"),
      /**
       * Fleet mode: the method each relay uses (fleet default, region and node overrides).
       * Optional, not defaulted: snapshots without it keep their hash.
       */
      scopes: RelayAuthScopes.optional(),
    }),
    acl: z.strictObject({
      enabled: z.boolean(),
      defaultPolicy: z.enum(["allow", "block"]),
    }),
    users: z.array(PolicyUser),
    groups: z.array(PolicyGroup),
    rules: z.array(AclRule),
    qos: QosSettings,
    /** Time zone of quotas' calendar periods; absent: "UTC". */
    quotaTimezone: TimeZone.optional(),
    /** Upstream proxy chains that rules name. Optional, not defaulted: older snapshots keep their hash. */
    routes: z.array(Route).optional(),
  })
  .superRefine((snapshot, ctx) => {
    const issue = (path: PropertyKey[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    const groups = firstSeen(
      snapshot.groups,
      (g) => g.name,
      (i, first, name) =>
        issue(["groups", i, "name"], `duplicate group "${name}" (first at groups[${first}])`),
    );
    firstSeen(
      snapshot.users,
      (u) => u.username,
      (i, first, name) =>
        issue(["users", i, "username"], `duplicate username "${name}" (first at users[${first}])`),
    );
    snapshot.users.forEach((user, i) => {
      user.groups.forEach((group, j) => {
        if (!groups.has(group)) issue(["users", i, "groups", j], `unknown group "${group}"`);
      });
      if (user.password !== undefined && user.passwordHash !== undefined) {
        issue(["users", i, "password"], "set either passwordHash or password, not both");
      }
    });
    firstSeen(
      snapshot.rules,
      (r) => r.id,
      (i, first, id) =>
        issue(["rules", i, "id"], `duplicate rule id "${id}" (first at rules[${first}])`),
    );
    const routes = firstSeen(
      snapshot.routes ?? [],
      (r) => r.name,
      (i, first, name) =>
        issue(["routes", i, "name"], `duplicate route "${name}" (first at routes[${first}])`),
    );
    snapshot.rules.forEach((rule, i) => {
      if (rule.owner.kind === "group" && !groups.has(rule.owner.name)) {
        issue(["rules", i, "owner", "name"], `unknown group "${rule.owner.name}"`);
      }
      if (rule.route !== undefined && !routes.has(rule.route)) {
        const known = [...routes.keys()];
        issue(
          ["rules", i, "route"],
          `unknown route "${rule.route}" (${known.length === 0 ? "the snapshot defines no routes" : `routes: ${known.join(", ")}`})`,
        );
      }
    });
  });

export type PolicySnapshot = z.infer<typeof PolicySnapshot>;
/** A snapshot as written, before defaults are filled in. */
export type PolicySnapshotInput = z.input<typeof PolicySnapshot>;

export type SnapshotResult = { ok: true; snapshot: PolicySnapshot } | { ok: false; error: string };

/**
 * sha256 (lowercase hex) of the canonical JSON (sorted keys, no whitespace) of everything in the
 * snapshot but `hash`. Hash the parsed snapshot: fields the schema defaults are part of it.
 */
export function snapshotHash(snapshot: PolicySnapshot | Omit<PolicySnapshot, "hash">): string {
  const { hash: _ignored, ...content } = snapshot as PolicySnapshot;
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * Parses and checks a snapshot from the wire or the disk cache: its shape, every destination and
 * port spec, cross references (users' groups, rule owners), duplicates, and that `hash` matches.
 * The error has one `path: problem` line per issue. The snapshot returned is deep-frozen.
 */
export function validateSnapshot(input: unknown): SnapshotResult {
  const parsed = PolicySnapshot.safeParse(input);
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
  const expected = snapshotHash(parsed.data);
  if (parsed.data.hash !== expected) {
    return {
      ok: false,
      error: `hash: "${parsed.data.hash}" does not match the snapshot content (sha256 ${expected})`,
    };
  }
  return { ok: true, snapshot: deepFreeze(parsed.data) };
}

/**
 * Builds a snapshot from a draft without a hash (the control plane when it publishes, a standalone
 * relay when it loads its TOML files): validates it, fills in defaults and `hash`, and freezes it.
 */
export function sealSnapshot(draft: Omit<PolicySnapshotInput, "hash">): SnapshotResult {
  const parsed = PolicySnapshot.safeParse({ ...draft, hash: "0".repeat(64) });
  if (!parsed.success) return { ok: false, error: formatIssues(parsed.error.issues) };
  const snapshot = { ...parsed.data, hash: snapshotHash(parsed.data) };
  return { ok: true, snapshot: deepFreeze(snapshot) };
}

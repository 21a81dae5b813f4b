import type { Db } from "@edgesocks/db";
import type { StoredQuota, StoredRoute, StoredSchedule } from "@edgesocks/db/schema";
import {
  aclRules,
  aclSettings,
  authMethodScopes,
  authSettings,
  policyGroups,
  policyRoutes,
  policyUsers,
  qosSettings,
} from "@edgesocks/db/schema";
import type {
  AuthAssignment,
  PolicySnapshot,
  PolicySnapshotInput,
  RouteHop,
} from "@edgesocks/policy";
import { asc, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";

/** Per-user or per-group bandwidth override; null fields inherit. */
export interface QosOverride {
  guaranteedBytesPerSec: number | null;
  maxBytesPerSec: number | null;
  burstBytes: number | null;
}

export interface UserState {
  username: string;
  passwordHash: string | null;
  enabled: boolean;
  groups: string[];
  maxConnections: number | null;
  qos: QosOverride;
  /** Traffic quota of this user alone; null: none. */
  quota: StoredQuota | null;
}

export interface GroupState {
  name: string;
  maxConnectionsPerUser: number | null;
  qos: QosOverride;
  /** Traffic quota shared by all members; null: none. */
  quota: StoredQuota | null;
}

export interface RuleState {
  id: string;
  owner: { kind: "user" | "group"; name: string };
  action: "allow" | "block";
  description: string | null;
  destinations: string[];
  ports: string[];
  protocols: ("tcp" | "udp" | "both")[];
  priority: number;
  /** Client IPs, CIDRs or `country:XX`; null: every client. */
  sources: string[] | null;
  /** When the rule applies; null: always. */
  schedule: StoredSchedule | null;
  closeAtWindowEnd: boolean;
  /** The route this allow rule's CONNECTs go through; null: direct. */
  route: string | null;
}

/** An upstream route, in the snapshot's shape (hops with their own credentials). */
export interface RouteState {
  name: string;
  resolve: "local" | "remote";
  selector: "failover" | "round" | "random";
  maxFails: number;
  failTimeoutSecs: number;
  chains: { proxyProtocol?: "v1" | "v2"; hops: RouteHop[] }[];
}

export interface AclSettingsState {
  enabled: boolean;
  defaultPolicy: "allow" | "block";
}

export interface AuthSettingsState {
  methods: ("none" | "userpass")[];
  anonymousUser: string;
}

/** A scope's method as stored: the group source always spelled out. */
export interface AuthAssignmentState {
  method: AuthAssignment["method"];
  groupSource: "policy" | "nss";
}

/** Fleet mode: which method relays use. Nothing set: every relay offers `auth.methods`. */
export interface AuthScopesState {
  default: AuthAssignmentState | null;
  regions: Record<string, AuthAssignmentState>;
  nodes: Record<string, AuthAssignmentState>;
}

export interface QosSettingsState {
  enabled: boolean;
  globalBytesPerSec: number | null;
  guaranteedBytesPerSec: number | null;
  maxBytesPerSec: number | null;
  burstBytes: number | null;
  fairSharing: boolean;
  maxConnectionsPerUser: number | null;
  maxConnectionsGlobal: number | null;
  maxConnectionsPerClient: number | null;
}

/** Everything a snapshot is compiled from, as the admin API edits it. Rules are in order. */
export interface PolicyState {
  users: UserState[];
  groups: GroupState[];
  rules: RuleState[];
  /** Upstream routes, in order. */
  routes: RouteState[];
  acl: AclSettingsState;
  auth: AuthSettingsState;
  authScopes: AuthScopesState;
  qos: QosSettingsState;
  /** IANA time zone of quota periods. */
  quotaTimezone: string;
}

export const NO_QOS: QosOverride = {
  guaranteedBytesPerSec: null,
  maxBytesPerSec: null,
  burstBytes: null,
};

/** The policy of a new fleet: no authentication, allow everything, one anonymous user. */
export function defaultPolicyState(): PolicyState {
  return {
    users: [
      {
        username: "anonymous",
        passwordHash: null,
        enabled: true,
        groups: [],
        maxConnections: null,
        qos: { ...NO_QOS },
        quota: null,
      },
    ],
    groups: [],
    rules: [],
    routes: [],
    acl: { enabled: true, defaultPolicy: "allow" },
    auth: { methods: ["none"], anonymousUser: "anonymous" },
    authScopes: { default: null, regions: {}, nodes: {} },
    qos: {
      enabled: false,
      globalBytesPerSec: null,
      guaranteedBytesPerSec: null,
      maxBytesPerSec: null,
      burstBytes: null,
      fairSharing: true,
      maxConnectionsPerUser: null,
      maxConnectionsGlobal: null,
      maxConnectionsPerClient: null,
    },
    quotaTimezone: "UTC",
  };
}

function qosOf(row: {
  qosGuaranteedBytesPerSec: number | null;
  qosMaxBytesPerSec: number | null;
  qosBurstBytes: number | null;
}): QosOverride {
  return {
    guaranteedBytesPerSec: row.qosGuaranteedBytesPerSec,
    maxBytesPerSec: row.qosMaxBytesPerSec,
    burstBytes: row.qosBurstBytes,
  };
}

/** Reads the whole editable policy. */
export async function loadPolicyState(db: Db): Promise<PolicyState> {
  const [users, groups, rules, acl, auth, qos, scopes, routes] = await Promise.all([
    db.select().from(policyUsers).orderBy(asc(policyUsers.id)),
    db.select().from(policyGroups).orderBy(asc(policyGroups.id)),
    db.select().from(aclRules).orderBy(asc(aclRules.position)),
    db.select().from(aclSettings).where(eq(aclSettings.id, 1)),
    db.select().from(authSettings).where(eq(authSettings.id, 1)),
    db.select().from(qosSettings).where(eq(qosSettings.id, 1)),
    db
      .select()
      .from(authMethodScopes)
      .orderBy(asc(authMethodScopes.scope), asc(authMethodScopes.name)),
    db.select().from(policyRoutes).orderBy(asc(policyRoutes.position)),
  ]);
  const authScopes: AuthScopesState = { default: null, regions: {}, nodes: {} };
  for (const row of scopes) {
    const assignment = { method: row.method, groupSource: row.groupSource };
    if (row.scope === "fleet") authScopes.default = assignment;
    else if (row.scope === "region") authScopes.regions[row.name] = assignment;
    else authScopes.nodes[row.name] = assignment;
  }
  const defaults = defaultPolicyState();
  return {
    users: users.map((u) => ({
      username: u.username,
      passwordHash: u.passwordHash,
      enabled: u.enabled,
      groups: u.groups,
      maxConnections: u.maxConnections,
      qos: qosOf(u),
      quota: u.quota,
    })),
    groups: groups.map((g) => ({
      name: g.name,
      maxConnectionsPerUser: g.maxConnectionsPerUser,
      qos: qosOf(g),
      quota: g.quota,
    })),
    rules: rules.map((r) => ({
      id: r.id,
      owner: { kind: r.ownerKind, name: r.ownerName },
      action: r.action,
      description: r.description,
      destinations: r.destinations,
      ports: r.ports,
      protocols: r.protocols,
      priority: r.priority,
      sources: r.sources,
      schedule: r.schedule,
      closeAtWindowEnd: r.closeAtWindowEnd,
      route: r.route,
    })),
    routes: routes.map((r) => ({ name: r.name, ...(r.definition as Omit<RouteState, "name">) })),
    acl: acl[0] ? { enabled: acl[0].enabled, defaultPolicy: acl[0].defaultPolicy } : defaults.acl,
    auth: auth[0]
      ? { methods: auth[0].methods, anonymousUser: auth[0].anonymousUser }
      : defaults.auth,
    authScopes,
    qos: qos[0]
      ? {
          enabled: qos[0].enabled,
          globalBytesPerSec: qos[0].globalBytesPerSec,
          guaranteedBytesPerSec: qos[0].guaranteedBytesPerSec,
          maxBytesPerSec: qos[0].maxBytesPerSec,
          burstBytes: qos[0].burstBytes,
          fairSharing: qos[0].fairSharing,
          maxConnectionsPerUser: qos[0].maxConnectionsPerUser,
          maxConnectionsGlobal: qos[0].maxConnectionsGlobal,
          maxConnectionsPerClient: qos[0].maxConnectionsPerClient,
        }
      : defaults.qos,
    quotaTimezone: qos[0]?.quotaTimezone ?? "UTC",
  };
}

/** Copies `source` without its null fields (the snapshot schema uses absent, not null). */
function defined<T extends object>(source: T): { [K in keyof T]?: Exclude<T[K], null> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) if (value !== null) out[key] = value;
  return out as { [K in keyof T]?: Exclude<T[K], null> };
}

function qosDraft(qos: QosOverride) {
  const parts = defined(qos);
  return Object.keys(parts).length === 0 ? {} : { qos: parts };
}

/** As the snapshot has it: absent when nothing is set, so such fleets' snapshots keep their hash. */
function scopesDraft(scopes: AuthScopesState): {
  scopes?: NonNullable<PolicySnapshot["auth"]["scopes"]>;
} {
  const regions = Object.keys(scopes.regions).length > 0;
  const nodes = Object.keys(scopes.nodes).length > 0;
  if (scopes.default === null && !regions && !nodes) return {};
  return {
    scopes: {
      ...(scopes.default === null ? {} : { default: { ...scopes.default } }),
      ...(regions ? { regions: structuredClone(scopes.regions) } : {}),
      ...(nodes ? { nodes: structuredClone(scopes.nodes) } : {}),
    },
  };
}

/** A snapshot's scopes as stored (the group source spelled out). */
function scopesOf(scopes: PolicySnapshot["auth"]["scopes"]): AuthScopesState {
  const state = (a: AuthAssignment): AuthAssignmentState => ({
    method: a.method,
    groupSource: a.groupSource ?? "policy",
  });
  const each = (record: Record<string, AuthAssignment> | undefined) =>
    Object.fromEntries(Object.entries(record ?? {}).map(([name, a]) => [name, state(a)]));
  return {
    default: scopes?.default ? state(scopes.default) : null,
    regions: each(scopes?.regions),
    nodes: each(scopes?.nodes),
  };
}

/** The snapshot draft (without hash) for `state`, to seal with @edgesocks/policy. */
export function stateToDraft(
  state: PolicyState,
  meta: { version: number; epoch: string; createdAt: string },
): Omit<PolicySnapshotInput, "hash"> {
  return {
    ...meta,
    auth: {
      methods: state.auth.methods,
      anonymousUser: state.auth.anonymousUser,
      ...scopesDraft(state.authScopes),
    },
    acl: { enabled: state.acl.enabled, defaultPolicy: state.acl.defaultPolicy },
    users: state.users.map((u) => ({
      username: u.username,
      ...(u.passwordHash === null ? {} : { passwordHash: u.passwordHash }),
      enabled: u.enabled,
      groups: u.groups,
      ...(u.maxConnections === null ? {} : { maxConnections: u.maxConnections }),
      ...qosDraft(u.qos),
      ...(u.quota === null ? {} : { quota: u.quota }),
    })),
    groups: state.groups.map((g) => ({
      name: g.name,
      ...(g.maxConnectionsPerUser === null
        ? {}
        : { maxConnectionsPerUser: g.maxConnectionsPerUser }),
      ...qosDraft(g.qos),
      ...(g.quota === null ? {} : { quota: g.quota }),
    })),
    rules: state.rules.map((r) => ({
      id: r.id,
      owner: r.owner,
      action: r.action,
      ...(r.description === null ? {} : { description: r.description }),
      destinations: r.destinations,
      ports: r.ports,
      protocols: r.protocols,
      priority: r.priority,
      // Absent when unset: snapshots of rules without conditions keep their content (and hash).
      ...(r.sources === null ? {} : { sources: r.sources }),
      ...(r.schedule === null ? {} : { schedule: r.schedule }),
      ...(r.closeAtWindowEnd ? { closeAtWindowEnd: true } : {}),
      ...(r.route === null ? {} : { route: r.route }),
    })),
    // Absent without routes: snapshots of fleets that route nothing keep their content (and hash).
    ...(state.routes.length === 0 ? {} : { routes: state.routes }),
    qos: defined(state.qos) as PolicySnapshotInput["qos"],
    // Absent when UTC: snapshots of fleets without quotas keep their content (and hash).
    ...(state.quotaTimezone === "UTC" ? {} : { quotaTimezone: state.quotaTimezone }),
  };
}

function overrideOf(
  qos: { guaranteedBytesPerSec?: number; maxBytesPerSec?: number; burstBytes?: number } | undefined,
): QosOverride {
  return {
    guaranteedBytesPerSec: qos?.guaranteedBytesPerSec ?? null,
    maxBytesPerSec: qos?.maxBytesPerSec ?? null,
    burstBytes: qos?.burstBytes ?? null,
  };
}

/** The editable state a snapshot was made from (for rollback). */
export function snapshotToState(snapshot: PolicySnapshot): PolicyState {
  return {
    users: snapshot.users.map((u) => ({
      username: u.username,
      passwordHash: u.passwordHash ?? null,
      enabled: u.enabled,
      groups: [...u.groups],
      maxConnections: u.maxConnections ?? null,
      qos: overrideOf(u.qos),
      quota: u.quota ? { ...u.quota } : null,
    })),
    groups: snapshot.groups.map((g) => ({
      name: g.name,
      maxConnectionsPerUser: g.maxConnectionsPerUser ?? null,
      qos: overrideOf(g.qos),
      quota: g.quota ? { ...g.quota } : null,
    })),
    rules: snapshot.rules.map((r) => ({
      id: r.id,
      owner: { ...r.owner },
      action: r.action,
      description: r.description ?? null,
      destinations: [...r.destinations],
      ports: [...r.ports],
      protocols: [...r.protocols],
      priority: r.priority,
      sources: r.sources ? [...r.sources] : null,
      schedule: r.schedule ? structuredClone(r.schedule) : null,
      closeAtWindowEnd: r.closeAtWindowEnd ?? false,
      route: r.route ?? null,
    })),
    routes: (snapshot.routes ?? []).map((r) => structuredClone({ ...r }) as RouteState),
    acl: { ...snapshot.acl },
    auth: { methods: [...snapshot.auth.methods], anonymousUser: snapshot.auth.anonymousUser },
    authScopes: scopesOf(snapshot.auth.scopes),
    qos: {
      enabled: snapshot.qos.enabled,
      globalBytesPerSec: snapshot.qos.globalBytesPerSec ?? null,
      guaranteedBytesPerSec: snapshot.qos.guaranteedBytesPerSec ?? null,
      maxBytesPerSec: snapshot.qos.maxBytesPerSec ?? null,
      burstBytes: snapshot.qos.burstBytes ?? null,
      fairSharing: snapshot.qos.fairSharing,
      maxConnectionsPerUser: snapshot.qos.maxConnectionsPerUser ?? null,
      maxConnectionsGlobal: snapshot.qos.maxConnectionsGlobal ?? null,
      maxConnectionsPerClient: snapshot.qos.maxConnectionsPerClient ?? null,
    },
    quotaTimezone: snapshot.quotaTimezone ?? "UTC",
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Keyed differences between two lists: what to delete, insert and update. */
export function diffByKey<T>(before: readonly T[], after: readonly T[], key: (item: T) => string) {
  const old = new Map(before.map((item) => [key(item), item]));
  const next = new Map(after.map((item, index) => [key(item), { item, index }]));
  const removed = [...old.keys()].filter((k) => !next.has(k));
  const added: { item: T; index: number }[] = [];
  const changed: { before: T; item: T; index: number }[] = [];
  for (const [k, entry] of next) {
    const previous = old.get(k);
    if (previous === undefined) added.push(entry);
    else if (!same(previous, entry.item)) changed.push({ before: previous, ...entry });
  }
  return { removed, added, changed };
}

/** The statements that turn the stored policy `before` into `after` (for one db.batch()). */
export function policyWrites(
  db: Db,
  before: PolicyState,
  after: PolicyState,
  nowMs: number,
): BatchItem<"sqlite">[] {
  const writes: BatchItem<"sqlite">[] = [];
  const userValues = (u: UserState) => ({
    username: u.username,
    passwordHash: u.passwordHash,
    enabled: u.enabled,
    groups: u.groups,
    maxConnections: u.maxConnections,
    qosGuaranteedBytesPerSec: u.qos.guaranteedBytesPerSec,
    qosMaxBytesPerSec: u.qos.maxBytesPerSec,
    qosBurstBytes: u.qos.burstBytes,
    quota: u.quota,
    updatedAtMs: nowMs,
  });
  const users = diffByKey(before.users, after.users, (u) => u.username);
  if (users.removed.length > 0) {
    writes.push(db.delete(policyUsers).where(inArray(policyUsers.username, users.removed)));
  }
  for (const { item } of users.changed) {
    writes.push(
      db.update(policyUsers).set(userValues(item)).where(eq(policyUsers.username, item.username)),
    );
  }
  for (const { item } of users.added) {
    writes.push(db.insert(policyUsers).values({ ...userValues(item), createdAtMs: nowMs }));
  }

  const groupValues = (g: GroupState) => ({
    name: g.name,
    maxConnectionsPerUser: g.maxConnectionsPerUser,
    qosGuaranteedBytesPerSec: g.qos.guaranteedBytesPerSec,
    qosMaxBytesPerSec: g.qos.maxBytesPerSec,
    qosBurstBytes: g.qos.burstBytes,
    quota: g.quota,
    updatedAtMs: nowMs,
  });
  const groups = diffByKey(before.groups, after.groups, (g) => g.name);
  if (groups.removed.length > 0) {
    writes.push(db.delete(policyGroups).where(inArray(policyGroups.name, groups.removed)));
  }
  for (const { item } of groups.changed) {
    writes.push(
      db.update(policyGroups).set(groupValues(item)).where(eq(policyGroups.name, item.name)),
    );
  }
  for (const { item } of groups.added) {
    writes.push(db.insert(policyGroups).values({ ...groupValues(item), createdAtMs: nowMs }));
  }

  // Rules carry their position, so compare them with it.
  const positioned = (rules: RuleState[]) => rules.map((rule, position) => ({ ...rule, position }));
  const ruleValues = (r: RuleState & { position: number }) => ({
    id: r.id,
    ownerKind: r.owner.kind,
    ownerName: r.owner.name,
    action: r.action,
    description: r.description,
    destinations: r.destinations,
    ports: r.ports,
    protocols: r.protocols,
    priority: r.priority,
    sources: r.sources,
    schedule: r.schedule,
    closeAtWindowEnd: r.closeAtWindowEnd,
    position: r.position,
    route: r.route,
    updatedAtMs: nowMs,
  });
  const rules = diffByKey(positioned(before.rules), positioned(after.rules), (r) => r.id);
  if (rules.removed.length > 0) {
    writes.push(db.delete(aclRules).where(inArray(aclRules.id, rules.removed)));
  }
  for (const { item } of rules.changed) {
    writes.push(db.update(aclRules).set(ruleValues(item)).where(eq(aclRules.id, item.id)));
  }
  for (const { item } of rules.added) {
    writes.push(db.insert(aclRules).values({ ...ruleValues(item), createdAtMs: nowMs }));
  }

  const positionedRoutes = (routes: RouteState[]) =>
    routes.map((route, position) => ({ ...route, position }));
  const routeValues = (r: RouteState & { position: number }) => {
    const { name, position, ...definition } = r;
    return { name, position, definition: definition as StoredRoute, updatedAtMs: nowMs };
  };
  const routes = diffByKey(
    positionedRoutes(before.routes),
    positionedRoutes(after.routes),
    (r) => r.name,
  );
  if (routes.removed.length > 0) {
    writes.push(db.delete(policyRoutes).where(inArray(policyRoutes.name, routes.removed)));
  }
  for (const { item } of routes.changed) {
    writes.push(
      db.update(policyRoutes).set(routeValues(item)).where(eq(policyRoutes.name, item.name)),
    );
  }
  for (const { item } of routes.added) {
    writes.push(db.insert(policyRoutes).values({ ...routeValues(item), createdAtMs: nowMs }));
  }

  if (!same(before.acl, after.acl)) {
    const values = { ...after.acl, updatedAtMs: nowMs };
    writes.push(
      db
        .insert(aclSettings)
        .values({ id: 1, ...values })
        .onConflictDoUpdate({ target: aclSettings.id, set: values }),
    );
  }
  if (!same(before.auth, after.auth)) {
    const values = { ...after.auth, updatedAtMs: nowMs };
    writes.push(
      db
        .insert(authSettings)
        .values({ id: 1, ...values })
        .onConflictDoUpdate({ target: authSettings.id, set: values }),
    );
  }
  if (!same(before.authScopes, after.authScopes)) {
    // A handful of rows: replaced as a whole, in the same batch as the rest of the change.
    writes.push(db.delete(authMethodScopes));
    const { default: fleetDefault, regions, nodes } = after.authScopes;
    const rows = [
      ...(fleetDefault ? [{ scope: "fleet" as const, name: "", ...fleetDefault }] : []),
      ...Object.entries(regions).map(([name, a]) => ({ scope: "region" as const, name, ...a })),
      ...Object.entries(nodes).map(([name, a]) => ({ scope: "node" as const, name, ...a })),
    ];
    if (rows.length > 0) {
      writes.push(
        db.insert(authMethodScopes).values(rows.map((row) => ({ ...row, updatedAtMs: nowMs }))),
      );
    }
  }
  if (!same(before.qos, after.qos) || before.quotaTimezone !== after.quotaTimezone) {
    const values = {
      ...after.qos,
      quotaTimezone: after.quotaTimezone === "UTC" ? null : after.quotaTimezone,
      updatedAtMs: nowMs,
    };
    writes.push(
      db
        .insert(qosSettings)
        .values({ id: 1, ...values })
        .onConflictDoUpdate({ target: qosSettings.id, set: values }),
    );
  }
  return writes;
}

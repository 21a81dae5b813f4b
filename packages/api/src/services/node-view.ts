import type { nodes } from "@edgesocks/db/schema";
import { resolveAuthScope } from "@edgesocks/policy";
import type { Services } from "../context";
import { ActiveSession } from "../wire";
import { configStatus } from "./node-status";

export type NodeRow = typeof nodes.$inferSelect;

/** Active sessions from a node's latest heartbeat; none when the heartbeat is stale. */
export function activeSessionsOf(row: NodeRow, services: Services, nowMs = Date.now()) {
  if (row.activeSessionsJson === null || row.lastSeenAtMs === null) return [];
  if (nowMs - row.lastSeenAtMs > services.heartbeatStaleMs) return [];
  const parsed = ActiveSession.array().safeParse(JSON.parse(row.activeSessionsJson));
  return parsed.success ? parsed.data : [];
}

/** A node as the admin API shows it, with its config status. */
export function nodeView(row: NodeRow, services: Services, nowMs = Date.now()) {
  const newest = services.hub.current();
  const { status, reason } = configStatus(row, newest);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const online = row.lastSeenAtMs !== null && nowMs - row.lastSeenAtMs <= services.heartbeatStaleMs;
  return {
    id: row.id,
    name: row.name,
    region: row.region,
    enrolled: row.enrolledAtMs !== null,
    /** Disabled: its token does not work; it is left out of /proxy.pac and config alerts. */
    disabled: row.disabledAtMs !== null,
    /** The only public addresses it may report (enrollment); null: any routable HOST:PORT. */
    publicAddresses: row.publicAddresses,
    enrollmentPending: row.enrollmentTokenHash !== null,
    createdAt: iso(row.createdAtMs),
    enrolledAt: iso(row.enrolledAtMs),
    lastSeenAt: iso(row.lastSeenAtMs),
    online,
    watching: (services.watching.get(row.id) ?? 0) > 0,
    softwareVersion: row.softwareVersion,
    publicAddress: row.publicAddress,
    configStatus: status,
    /** Why the node is ERROR: it rejected its last snapshot, or cannot run its auth method. */
    rejectionReason: reason,
    authMethod: newest
      ? resolveAuthScope(newest.snapshot.auth.scopes, { name: row.name, region: row.region })
      : null,
    authProblem: row.authProblem,
    newestVersion: newest?.version ?? null,
    sentVersion: row.sentVersion,
    appliedVersion: row.appliedVersion,
    appliedEpoch: row.appliedEpoch,
    rejectedVersion: row.rejectedVersion,
    counters: online ? row.counters : null,
    activeSessions: online ? activeSessionsOf(row, services, nowMs).length : 0,
    activeSessionsTruncated: row.activeSessionsTruncated,
  };
}

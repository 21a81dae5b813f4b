import type { PolicySnapshot } from "@edgesocks/policy";
import type { ClassLimits, TreeSettings } from "./htb";

type SnapshotUser = PolicySnapshot["users"][number];
type SnapshotGroup = PolicySnapshot["groups"][number];
type QosKey = "guaranteedBytesPerSec" | "maxBytesPerSec" | "burstBytes";

/** Connection caps for one request; undefined: no cap. */
export interface ConnectionLimitValues {
  global: number | undefined;
  perUser: number | undefined;
  perClient: number | undefined;
}

interface Index {
  users: Map<string, SnapshotUser>;
  groups: Map<string, SnapshotGroup>;
}

// Snapshots are frozen and swapped whole, so an index per snapshot never goes stale.
const indexes = new WeakMap<PolicySnapshot, Index>();

function indexOf(snapshot: PolicySnapshot): Index {
  let index = indexes.get(snapshot);
  if (!index) {
    index = {
      users: new Map(snapshot.users.map((u) => [u.username, u])),
      groups: new Map(snapshot.groups.map((g) => [g.name, g])),
    };
    indexes.set(snapshot, index);
  }
  return index;
}

function groupsOf(snapshot: PolicySnapshot, username: string) {
  const { users, groups } = indexOf(snapshot);
  const user = users.get(username);
  const memberOf = (user?.groups ?? [])
    .map((name) => groups.get(name))
    .filter((g): g is SnapshotGroup => g !== undefined);
  return { user, memberOf };
}

/**
 * The root of both directions' trees; null when QoS is off: then there is no
 * global rate, but users and groups with their own rates are still shaped.
 */
export function treeSettings(snapshot: PolicySnapshot): TreeSettings | null {
  const { qos } = snapshot;
  if (!qos.enabled) return null;
  return {
    globalBytesPerSec: qos.globalBytesPerSec,
    burstBytes: qos.burstBytes,
    fairSharing: qos.fairSharing,
  };
}

/**
 * A user's rates: each value from the user's own `qos`, else from the first of
 * the user's groups (in the user's order) that sets it, else the relay-wide
 * default. The user's and groups' own rates always apply, as their connection
 * limits do; the `qos.enabled` switch governs only the relay-wide defaults and
 * the global rate. Null: the user is not shaped at all (neither a ceiling nor
 * a global rate applies), so its sessions take the fast path.
 */
export function classLimits(snapshot: PolicySnapshot, username: string): ClassLimits | null {
  const { qos } = snapshot;
  const { user, memberOf } = groupsOf(snapshot, username);
  const pick = (key: QosKey): number | undefined =>
    user?.qos?.[key] ??
    memberOf.find((g) => g.qos?.[key] !== undefined)?.qos?.[key] ??
    (qos.enabled ? qos[key] : undefined);
  const max = pick("maxBytesPerSec");
  if (max === undefined && (!qos.enabled || qos.globalBytesPerSec === undefined)) return null;
  const guaranteed = pick("guaranteedBytesPerSec") ?? 0;
  return {
    guaranteedBytesPerSec: max === undefined ? guaranteed : Math.min(guaranteed, max),
    maxBytesPerSec: max,
    burstBytes: pick("burstBytes"),
  };
}

/**
 * Connection caps for a request by `username`. A user's own `maxConnections`
 * or a group's `maxConnectionsPerUser` always apply; the relay-wide defaults
 * (`[qos.connection_limits]`) only while QoS is enabled, as in RustSocks.
 */
export function connectionLimits(
  snapshot: PolicySnapshot,
  username: string,
): ConnectionLimitValues {
  const { qos } = snapshot;
  const { user, memberOf } = groupsOf(snapshot, username);
  const perUser =
    user?.maxConnections ??
    memberOf.find((g) => g.maxConnectionsPerUser !== undefined)?.maxConnectionsPerUser ??
    (qos.enabled ? qos.maxConnectionsPerUser : undefined);
  return {
    global: qos.enabled ? qos.maxConnectionsGlobal : undefined,
    perUser,
    perClient: qos.enabled ? qos.maxConnectionsPerClient : undefined,
  };
}

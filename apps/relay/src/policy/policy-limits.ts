import type { PolicySnapshot } from "@edgesocks/policy";
import type { ClassLimits, TreeSettings } from "../qos/htb";

type SnapshotUser = PolicySnapshot["users"][number];
type SnapshotGroup = PolicySnapshot["groups"][number];
type QosKey = "guaranteedBytesPerSec" | "maxBytesPerSec" | "burstBytes";

/** Connection caps for one request; undefined: no cap. */
export interface ConnectionLimitValues {
  global: number | undefined;
  perUser: number | undefined;
  perClient: number | undefined;
}

/**
 * A snapshot's connection caps and QoS classes, indexed once when the snapshot
 * is compiled (CompiledPolicy.limits) and then only read.
 */
export class PolicyLimits {
  /** The root of both directions' QoS trees; see treeSettings(). */
  readonly tree: TreeSettings | null;
  readonly #snapshot: PolicySnapshot;
  /** Each user and the groups it is in (in the user's order), resolved once. */
  readonly #memberships = new Map<string, Membership>();

  constructor(snapshot: PolicySnapshot) {
    this.#snapshot = snapshot;
    const groups = new Map(snapshot.groups.map((g) => [g.name, g]));
    for (const user of snapshot.users) {
      const memberOf = user.groups
        .map((name) => groups.get(name))
        .filter((g): g is SnapshotGroup => g !== undefined);
      this.#memberships.set(user.username, { user, memberOf });
    }
    this.tree = treeSettings(snapshot);
  }

  /** The user's QoS class; see classLimits(). */
  classLimits(username: string): ClassLimits | null {
    return classLimits(this.#snapshot, this.#membership(username));
  }

  /** The user's connection caps; see connectionLimits(). */
  connectionLimits(username: string): ConnectionLimitValues {
    return connectionLimits(this.#snapshot, this.#membership(username));
  }

  #membership(username: string): Membership {
    return this.#memberships.get(username) ?? NOBODY;
  }
}

interface Membership {
  user: SnapshotUser | undefined;
  memberOf: readonly SnapshotGroup[];
}

/** A user the snapshot does not list (the anonymous user, a mutual-TLS name). */
const NOBODY: Membership = Object.freeze({ user: undefined, memberOf: Object.freeze([]) });

/**
 * The root of both directions' trees; null when QoS is off: then there is no
 * global rate, but users and groups with their own rates are still shaped.
 */
function treeSettings(snapshot: PolicySnapshot): TreeSettings | null {
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
function classLimits(snapshot: PolicySnapshot, { user, memberOf }: Membership): ClassLimits | null {
  const { qos } = snapshot;
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
function connectionLimits(
  snapshot: PolicySnapshot,
  { user, memberOf }: Membership,
): ConnectionLimitValues {
  const { qos } = snapshot;
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

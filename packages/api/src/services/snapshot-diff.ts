import type { PolicySnapshot } from "@edgesocks/policy";
import { REDACTED } from "./audit";
import { diffByKey } from "./policy-state";

export interface ListDiff<T> {
  added: T[];
  removed: T[];
  changed: { before: T; after: T }[];
}

function listDiff<T>(
  before: readonly T[],
  after: readonly T[],
  key: (item: T) => string,
): ListDiff<T> {
  const diff = diffByKey(before, after, key);
  const old = new Map(before.map((item) => [key(item), item]));
  return {
    added: diff.added.map((a) => a.item),
    removed: diff.removed.map((k) => old.get(k)!),
    changed: diff.changed.map((c) => ({ before: c.before, after: c.item })),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

type SnapshotUser = PolicySnapshot["users"][number];
/** A user as a diff shows it: the hash is "set" (or absent), never its text. */
export type DiffUser = Omit<SnapshotUser, "passwordHash"> & { passwordHash?: "set" | "changed" };

function hidden(user: SnapshotUser, mark: "set" | "changed" = "set"): DiffUser {
  const { passwordHash, ...rest } = user;
  return passwordHash === undefined ? rest : { ...rest, passwordHash: mark };
}

/** Users' diff without hashes: a new hash on a changed user reads `"set" → "changed"`. */
function usersDiff(diff: ListDiff<SnapshotUser>): ListDiff<DiffUser> {
  return {
    added: diff.added.map((u) => hidden(u)),
    removed: diff.removed.map((u) => hidden(u)),
    changed: diff.changed.map(({ before, after }) => ({
      before: hidden(before),
      after: hidden(after, before.passwordHash === after.passwordHash ? "set" : REDACTED),
    })),
  };
}

/**
 * What changed between two snapshots, by user, group, rule id and settings section. Password
 * hashes never appear: a diff says a hash is set or changed, as the audit log does.
 */
export function diffSnapshots(from: PolicySnapshot, to: PolicySnapshot) {
  const settings: Record<string, { before: unknown; after: unknown }> = {};
  for (const key of ["auth", "acl", "qos"] as const) {
    if (!same(from[key], to[key])) settings[key] = { before: from[key], after: to[key] };
  }
  const rules = listDiff(from.rules, to.rules, (r) => r.id);
  const order = (s: PolicySnapshot) =>
    s.rules
      .map((r) => r.id)
      .filter((id) => from.rules.some((r) => r.id === id) && to.rules.some((r) => r.id === id));
  return {
    from: from.version,
    to: to.version,
    users: usersDiff(listDiff(from.users, to.users, (u) => u.username)),
    groups: listDiff(from.groups, to.groups, (g) => g.name),
    rules,
    /** True when rules present in both were reordered. */
    rulesReordered: !same(order(from), order(to)),
    settings,
  };
}

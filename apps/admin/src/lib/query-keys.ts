import type { RouterInputs } from "./api-types";

/**
 * Every TanStack Query key of the app, by procedure: one place that spells them, typed with the
 * procedure's input, so a cache read and its invalidation cannot drift apart. A key is the
 * procedure path, then what selects the data; invalidating `keys.x.all()` covers every variant.
 */
export const keys = {
  acl: {
    settings: () => ["acl.settings"] as const,
    test: (input: RouterInputs["acl"]["test"] | null) => ["acl.test", input] as const,
  },
  admins: { list: () => ["admins.list"] as const },
  audit: { list: (actor: string, action: string) => ["audit.list", actor, action] as const },
  auth: { get: () => ["auth.get"] as const, scopes: () => ["auth.scopes"] as const },
  groups: { list: () => ["groups.list"] as const },
  nodes: { list: () => ["nodes.list"] as const },
  qos: { get: () => ["qos.get"] as const },
  quotas: { usage: () => ["quotas.usage"] as const },
  routes: { list: () => ["routes.list"] as const },
  rules: { list: () => ["rules.list"] as const },
  sessions: {
    active: {
      all: () => ["sessions.active"] as const,
      list: () => ["sessions.active", "all"] as const,
      count: () => ["sessions.active", "count"] as const,
    },
    get: (id: string | null) => ["sessions.get", id] as const,
    history: (input: RouterInputs["sessions"]["history"] | null) =>
      ["sessions.history", input] as const,
  },
  snapshots: {
    list: () => ["snapshots.list"] as const,
    diff: (from: number | null, to: number | null) => ["snapshots.diff", from, to] as const,
  },
  stats: { summary: (window: string) => ["stats.summary", window] as const },
  users: { list: () => ["users.list"] as const },
};

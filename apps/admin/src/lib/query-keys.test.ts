import { partialMatchKey } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { keys } from "./query-keys";

describe("query keys", () => {
  it("are unique per procedure and variant, so no two queries share a cache entry by accident", () => {
    const all = [
      keys.acl.settings(),
      keys.acl.test(null),
      keys.admins.list(),
      keys.audit.list("", ""),
      keys.auth.get(),
      keys.auth.scopes(),
      keys.groups.list(),
      keys.nodes.list(),
      keys.qos.get(),
      keys.routes.list(),
      keys.rules.list(),
      keys.sessions.active.list(),
      keys.sessions.active.count(),
      keys.sessions.get("x"),
      keys.sessions.history(null),
      keys.snapshots.list(),
      keys.snapshots.diff(1, 2),
      keys.stats.summary("1h"),
      keys.users.list(),
    ].map((k) => JSON.stringify(k));
    expect(new Set(all).size).toBe(all.length);
  });

  it("invalidating sessions.active covers the table and the overview count, nothing else", () => {
    const prefix = keys.sessions.active.all();
    expect(partialMatchKey(keys.sessions.active.list(), prefix)).toBe(true);
    expect(partialMatchKey(keys.sessions.active.count(), prefix)).toBe(true);
    expect(partialMatchKey(keys.sessions.get("x"), prefix)).toBe(false);
    expect(partialMatchKey(keys.sessions.history(null), prefix)).toBe(false);
  });
});

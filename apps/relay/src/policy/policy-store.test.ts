import { type PolicySnapshot, sealSnapshot } from "@edgesocks/policy";
import { describe, expect, it } from "vitest";
import { PolicyStore } from "./policy-store";

function snapshot(version: number): PolicySnapshot {
  const sealed = sealSnapshot({
    version,
    epoch: "test",
    createdAt: "2025-01-01T00:00:00Z",
    auth: { methods: ["none"] },
    acl: { enabled: false, defaultPolicy: "allow" },
    users: [],
    groups: [],
    rules: [],
    qos: { enabled: false },
  });
  if (!sealed.ok) throw new Error(sealed.error);
  return sealed.snapshot;
}

describe("PolicyStore.apply", () => {
  it("keeps a compiled policy in force when a listener fails, runs the others, and names the one that failed", () => {
    const store = new PolicyStore();
    store.apply(snapshot(1));
    const seen: number[] = [];
    store.onChange(() => {
      throw new Error("shaper gone");
    }, "QoS re-apply to open sessions");
    store.onChange((next) => seen.push(next.snapshot.version), "revocation");
    const { policy, failures } = store.apply(snapshot(2));
    expect(policy.snapshot.version).toBe(2);
    expect(store.current.snapshot.version).toBe(2);
    expect(seen).toEqual([2]);
    expect(failures.map((f) => [f.listener, f.error.message])).toEqual([
      ["QoS re-apply to open sessions", "shaper gone"],
    ]);
  });

  it("refuses a snapshot that does not compile with RELAY_E_SNAPSHOT and changes nothing", () => {
    const store = new PolicyStore();
    store.apply(snapshot(1));
    let called = false;
    store.onChange(() => {
      called = true;
    });
    const broken = { ...snapshot(2), rules: null } as unknown as PolicySnapshot;
    expect(() => store.apply(broken)).toThrow(
      expect.objectContaining({ code: "RELAY_E_SNAPSHOT" }),
    );
    expect(store.current.snapshot.version).toBe(1);
    expect(called).toBe(false);
  });
});

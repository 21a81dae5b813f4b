import { type PolicySnapshotInput, sealSnapshot } from "@edgesocks/policy";
import { describe, expect, it } from "vitest";
import { createRelayMetrics } from "../metrics";
import { PolicyStore } from "../policy/policy-store";
import { QosManager } from "./qos-manager";

let version = 0;
function apply(
  store: PolicyStore,
  qos: PolicySnapshotInput["qos"],
  users: PolicySnapshotInput["users"] = [],
) {
  const sealed = sealSnapshot({
    version: ++version,
    epoch: "test",
    createdAt: "2025-01-01T00:00:00Z",
    auth: { methods: ["none"] },
    acl: { enabled: false, defaultPolicy: "allow" },
    users,
    groups: [],
    rules: [],
    qos,
  });
  if (!sealed.ok) throw new Error(sealed.error);
  store.apply(sealed.snapshot);
}

describe("QosManager", () => {
  it("gives unshaped users null gates, then shapes and unshapes their open sessions on policy changes", () => {
    const store = new PolicyStore();
    apply(store, { enabled: false });
    const manager = new QosManager({ policy: store });
    const session = manager.attach("alice");
    let changes = 0;
    session.watch(() => {
      changes += 1;
    });
    expect([session.up, session.down]).toEqual([null, null]);

    apply(store, { enabled: true }, [{ username: "alice", qos: { maxBytesPerSec: 1000 } }]);
    expect(changes).toBe(1);
    expect(session.up).not.toBeNull();
    expect(session.down).not.toBeNull();
    expect(manager.trees.up.users).toBe(1);

    // A new limit keeps the same gates: the tree updates the user in place.
    const gate = session.up;
    apply(store, { enabled: true }, [{ username: "alice", qos: { maxBytesPerSec: 2000 } }]);
    expect(changes).toBe(1);
    expect(session.up).toBe(gate);

    apply(store, { enabled: true });
    expect(changes).toBe(2);
    expect([session.up, session.down]).toEqual([null, null]);
    expect(manager.trees.up.users).toBe(0);
    session.release();
    manager.close();
  });

  it("shapes everyone under a global rate, and forgets a session once released", () => {
    const store = new PolicyStore();
    apply(store, { enabled: true, globalBytesPerSec: 1_000_000 });
    const manager = new QosManager({ policy: store });
    const a = manager.attach("anonymous");
    const b = manager.attach("anonymous");
    expect(a.up && b.up).toBeTruthy();
    expect(manager.trees.down.users).toBe(1);
    a.release();
    a.release();
    expect(manager.trees.down.users).toBe(1);
    b.release();
    expect(manager.trees.down.users).toBe(0);
    manager.close();
  });

  it("runs waiting flows from one shared timer and counts the waits", async () => {
    const store = new PolicyStore();
    apply(store, { enabled: true, maxBytesPerSec: 100_000 });
    const metrics = createRelayMetrics();
    const manager = new QosManager({ policy: store, metrics, tickMs: 5 });
    const sessions = [1, 2, 3].map(() => manager.attach("anonymous"));
    const grants: number[] = [];
    // Spend the burst, then each session waits for a share of 100 kB/s.
    sessions[0]!.down!.offer(100_000, () => {});
    const started = performance.now();
    await Promise.all(
      sessions.map(
        (s, i) =>
          new Promise<void>((resolve) => {
            const granted = () => {
              grants.push(i);
              resolve();
            };
            if (s.down!.offer(1000, granted)) resolve();
          }),
      ),
    );
    // 100 kB minus a 64 KiB burst is ~0.35 s of debt at 100 kB/s.
    expect(performance.now() - started).toBeGreaterThan(300);
    expect(grants.sort()).toEqual([0, 1, 2]);
    const waits = await metrics.qosWaits.get();
    expect(waits.values.find((v) => v.labels.direction === "down")?.value).toBe(3);
    for (const s of sessions) s.release();
    manager.close();
  });
});

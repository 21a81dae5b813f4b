import { type PolicySnapshot, type PolicySnapshotInput, sealSnapshot } from "@edgesocks/policy";
import { describe, expect, it } from "vitest";
import { PolicyLimits } from "./policy-limits";

// The tests read the limits as the relay does: through the snapshot's compiled index.
const classLimits = (s: PolicySnapshot, user: string) => new PolicyLimits(s).classLimits(user);
const connectionLimits = (s: PolicySnapshot, user: string) =>
  new PolicyLimits(s).connectionLimits(user);
const treeSettings = (s: PolicySnapshot) => new PolicyLimits(s).tree;

function snapshot(parts: Partial<Omit<PolicySnapshotInput, "hash">>): PolicySnapshot {
  const sealed = sealSnapshot({
    version: 1,
    epoch: "test",
    createdAt: "2025-01-01T00:00:00Z",
    auth: { methods: ["none"] },
    acl: { enabled: false, defaultPolicy: "allow" },
    users: [],
    groups: [],
    rules: [],
    qos: { enabled: true },
    ...parts,
  });
  if (!sealed.ok) throw new Error(sealed.error);
  return sealed.snapshot;
}

const fleet = snapshot({
  qos: {
    enabled: true,
    globalBytesPerSec: 10_000_000,
    guaranteedBytesPerSec: 100_000,
    maxBytesPerSec: 1_000_000,
    burstBytes: 200_000,
    maxConnectionsPerUser: 50,
    maxConnectionsGlobal: 1000,
    maxConnectionsPerClient: 20,
  },
  groups: [
    { name: "free", qos: { maxBytesPerSec: 300_000 }, maxConnectionsPerUser: 5 },
    { name: "paid", qos: { maxBytesPerSec: 5_000_000, guaranteedBytesPerSec: 500_000 } },
  ],
  users: [
    { username: "alice", groups: ["free", "paid"] },
    { username: "bob", groups: ["paid", "free"], maxConnections: 7 },
    { username: "carol", groups: ["free"], qos: { maxBytesPerSec: 2_000_000, burstBytes: 1 } },
    { username: "dave", groups: [] },
  ],
});

describe("per-user rates from the policy", () => {
  it("takes each value from the user, else the user's first group that sets it, else the default", () => {
    expect(classLimits(fleet, "alice")).toEqual({
      guaranteedBytesPerSec: 300_000, // paid's 500k, capped at free's ceiling
      maxBytesPerSec: 300_000,
      burstBytes: 200_000,
    });
    expect(classLimits(fleet, "bob")).toEqual({
      guaranteedBytesPerSec: 500_000,
      maxBytesPerSec: 5_000_000,
      burstBytes: 200_000,
    });
    expect(classLimits(fleet, "carol")).toEqual({
      guaranteedBytesPerSec: 100_000,
      maxBytesPerSec: 2_000_000,
      burstBytes: 1,
    });
    expect(classLimits(fleet, "dave")).toEqual({
      guaranteedBytesPerSec: 100_000,
      maxBytesPerSec: 1_000_000,
      burstBytes: 200_000,
    });
    // A user the snapshot does not list (the anonymous user) gets the defaults.
    expect(classLimits(fleet, "anonymous")).toEqual(classLimits(fleet, "dave"));
  });

  it("keeps users' and groups' own rates while QoS is off, and drops only the defaults", () => {
    const off = snapshot({ ...fleet, qos: { ...fleet.qos, enabled: false } });
    expect(treeSettings(off)).toBeNull();
    expect(classLimits(off, "alice")).toEqual({
      guaranteedBytesPerSec: 300_000,
      maxBytesPerSec: 300_000,
      burstBytes: undefined,
    });
    expect(classLimits(off, "carol")).toEqual({
      guaranteedBytesPerSec: 0,
      maxBytesPerSec: 2_000_000,
      burstBytes: 1,
    });
    // Only the fleet defaults would shape dave: nothing does while the switch is off.
    expect(classLimits(off, "dave")).toBeNull();
    expect(classLimits(off, "anonymous")).toBeNull();
  });

  it("leaves a user without a ceiling unshaped when there is no global rate either", () => {
    const open = snapshot({
      qos: { enabled: true, guaranteedBytesPerSec: 10 },
      users: [{ username: "capped", qos: { maxBytesPerSec: 1000 } }],
    });
    expect(classLimits(open, "someone")).toBeNull();
    expect(classLimits(open, "capped")?.maxBytesPerSec).toBe(1000);
    expect(treeSettings(open)).toEqual({
      globalBytesPerSec: undefined,
      burstBytes: undefined,
      fairSharing: true,
    });
  });
});

describe("connection limits from the policy", () => {
  it("takes the per-user cap from the user, else its first group that sets one, else the default", () => {
    expect(connectionLimits(fleet, "alice")).toEqual({ global: 1000, perUser: 5, perClient: 20 });
    expect(connectionLimits(fleet, "bob").perUser).toBe(7);
    expect(connectionLimits(fleet, "dave").perUser).toBe(50);
  });

  it("keeps explicit per-user caps but drops the [qos.connection_limits] defaults while QoS is off", () => {
    const off = snapshot({ ...fleet, qos: { ...fleet.qos, enabled: false } });
    expect(connectionLimits(off, "bob")).toEqual({
      global: undefined,
      perUser: 7,
      perClient: undefined,
    });
    expect(connectionLimits(off, "alice").perUser).toBe(5);
    expect(connectionLimits(off, "dave").perUser).toBeUndefined();
  });
});

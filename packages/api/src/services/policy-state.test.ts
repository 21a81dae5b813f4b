import { sealSnapshot } from "@edgesocks/policy";
import { describe, expect, it } from "vitest";
import { defaultPolicyState, snapshotToState, stateToDraft } from "./policy-state";

describe("policy state ⇄ snapshot", () => {
  it("round-trips, so a rollback restores exactly what a version held", () => {
    const state = defaultPolicyState();
    state.groups.push({
      name: "dev",
      maxConnectionsPerUser: 5,
      qos: { guaranteedBytesPerSec: null, maxBytesPerSec: 1000, burstBytes: null },
      quota: { bytes: 5_000_000, period: "week", direction: "total", onExhaust: "close" },
    });
    state.users.push({
      username: "alice",
      passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
      enabled: false,
      groups: ["dev"],
      maxConnections: 3,
      qos: { guaranteedBytesPerSec: 10, maxBytesPerSec: null, burstBytes: null },
      quota: {
        bytes: 1000,
        period: "day",
        direction: "down",
        onExhaust: "throttle",
        throttleBytesPerSec: 10,
      },
    });
    state.quotaTimezone = "Europe/Berlin";
    state.rules.push({
      id: "r1",
      owner: { kind: "group", name: "dev" },
      action: "block",
      description: null,
      destinations: ["10.0.0.0/8"],
      ports: ["22"],
      protocols: ["tcp"],
      priority: 5,
      sources: null,
      schedule: null,
      closeAtWindowEnd: false,
      route: null,
    });
    state.rules.push({
      id: "office-hours",
      owner: { kind: "group", name: "dev" },
      action: "allow",
      description: "from the office, in office hours",
      destinations: ["*"],
      ports: ["443"],
      protocols: ["both"],
      priority: 0,
      sources: ["127.0.0.2/32", "country:DE"],
      schedule: { days: ["mon-fri"], times: ["09:00-17:30"], timezone: "Europe/Berlin" },
      closeAtWindowEnd: true,
      route: null,
    });
    state.routes.push({
      name: "via-parent",
      resolve: "remote",
      selector: "round",
      maxFails: 2,
      failTimeoutSecs: 10,
      chains: [
        { hops: [{ type: "socks5", host: "127.0.0.1", port: 1081, username: "u", password: "p" }] },
        { hops: [{ type: "http", host: "127.0.0.1", port: 3128 }] },
      ],
    });
    state.rules.push({
      id: "r2",
      owner: { kind: "group", name: "dev" },
      action: "allow",
      description: null,
      destinations: ["*"],
      ports: ["443"],
      protocols: ["tcp"],
      priority: 0,
      sources: null,
      schedule: null,
      closeAtWindowEnd: false,
      route: "via-parent",
    });
    state.qos.maxConnectionsGlobal = 100;
    const sealed = sealSnapshot(
      stateToDraft(state, { version: 3, epoch: "e", createdAt: "2030-01-01T00:00:00Z" }),
    );
    if (!sealed.ok) throw new Error(sealed.error);
    expect(snapshotToState(sealed.snapshot)).toEqual(state);
    expect(sealed.snapshot.rules[1]).toMatchObject({
      sources: ["127.0.0.2/32", "country:DE"],
      schedule: { days: ["mon-fri"], times: ["09:00-17:30"], timezone: "Europe/Berlin" },
      closeAtWindowEnd: true,
    });
  });

  it("leaves a rule without conditions as it was, so older snapshots keep their hash", () => {
    const state = defaultPolicyState();
    state.rules.push({
      id: "plain",
      owner: { kind: "user", name: "anonymous" },
      action: "allow",
      description: null,
      destinations: ["*"],
      ports: ["*"],
      protocols: ["both"],
      priority: 0,
      sources: null,
      schedule: null,
      closeAtWindowEnd: false,
      route: null,
    });
    const draft = stateToDraft(state, {
      version: 1,
      epoch: "e",
      createdAt: "2030-01-01T00:00:00Z",
    });
    expect(Object.keys(draft.rules[0]!).sort()).toEqual(
      ["action", "destinations", "id", "owner", "ports", "priority", "protocols"].sort(),
    );
  });
});

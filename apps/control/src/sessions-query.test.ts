import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  enrollNode,
  sessionRecord,
  startTestControl,
  type TestControl,
} from "./test-support/control";

let control: TestControl;
const base = Date.parse("2030-01-01T00:00:00Z");
const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();

beforeAll(async () => {
  control = await startTestControl();
  const eu = control.http(await enrollNode(control, "relay-eu", "eu-west"));
  const us = control.http(await enrollNode(control, "relay-us", "us-east"));
  // 60 sessions over 60 minutes: alternating nodes, three users, a few rejections.
  const users = ["alice", "bob", "carol"];
  const records = Array.from({ length: 60 }, (_, i) =>
    sessionRecord({
      user: users[i % 3]!,
      startedAt: at(i),
      endedAt: at(i + 1),
      durationMs: 60_000,
      destinationHost: i % 4 === 0 ? "api.example.com" : "other.test",
      destinationAddress: i % 4 === 0 ? `10.1.0.${i}` : "192.0.2.1",
      bytesUp: i * 10,
      bytesDown: i * 100,
      status: i % 10 === 9 ? "rejected" : "closed",
      decision: i % 10 === 9 ? "block" : "allow",
      ruleId: i % 10 === 9 ? "block-rule" : null,
    }),
  );
  await eu.sessions.ingest.mutate({ records: records.filter((_, i) => i % 2 === 0) });
  await us.sessions.ingest.mutate({ records: records.filter((_, i) => i % 2 === 1) });
});
afterAll(async () => {
  await control.close();
});

describe("sessions.history", () => {
  it("filters by user, node, region, destination host, CIDR, status, decision, time and bytes", async () => {
    const q = (input: Parameters<typeof control.admin.sessions.history.query>[0]) =>
      control.admin.sessions.history.query({ limit: 500, ...input }).then((r) => r.items);
    expect(await q({})).toHaveLength(60);
    expect(await q({ user: "alice" })).toHaveLength(20);
    expect(await q({ node: "relay-eu" })).toHaveLength(30);
    expect(await q({ region: "us-east" })).toHaveLength(30);
    expect(await q({ destination: "api.example.com" })).toHaveLength(15);
    expect(await q({ destination: "*.example.com" })).toHaveLength(15);
    expect(await q({ destination: "10.1.0.0/24" })).toHaveLength(15);
    expect(await q({ destination: "192.0.2.1" })).toHaveLength(45);
    expect(await q({ status: ["rejected"] })).toHaveLength(6);
    expect(await q({ decision: "block" })).toHaveLength(6);
    expect(await q({ from: at(10), to: at(20) })).toHaveLength(10);
    expect(await q({ minBytes: 5000 })).toHaveLength(60 - 46);
    const combined = await q({ user: "alice", node: "relay-eu", from: at(0), to: at(30) });
    expect(combined.every((s) => s.user === "alice" && s.node === "relay-eu")).toBe(true);
    expect(combined).toHaveLength(5);
  });

  it("pages with a cursor in the requested order, without gaps or repeats", async () => {
    for (const sort of [
      { field: "startedAt", direction: "desc" },
      { field: "bytes", direction: "asc" },
    ] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof control.admin.sessions.history.query>> =
          await control.admin.sessions.history.query({ limit: 7, sort, cursor });
        seen.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toHaveLength(60);
      expect(new Set(seen).size).toBe(60);
      const all = await control.admin.sessions.history.query({ limit: 500, sort });
      expect(all.items.map((s) => s.id)).toEqual(seen);
    }
    const newestFirst = await control.admin.sessions.history.query({ limit: 2 });
    expect(newestFirst.items.map((s) => s.startedAt)).toEqual([at(59), at(58)]);
    const bad = await control.admin.sessions.history.query({ cursor: "garbage" }).catch((e) => e);
    expect(bad.data?.appCode).toBe("API_E_BAD_INPUT");
  });

  it("lists one user's sessions", async () => {
    const page = await control.admin.users.sessions.query({ username: "bob", limit: 5 });
    expect(page.items).toHaveLength(5);
    expect(page.items.every((s) => s.user === "bob")).toBe(true);
    expect(page.nextCursor).not.toBeNull();
  });
});

describe("stats.summary", () => {
  it("totals, breaks down and ranks the window, with a time series", async () => {
    const stats = await control.admin.stats.summary.query({
      from: at(0),
      to: at(60),
      bucketMs: 600_000,
    });
    const bytesUp = Array.from({ length: 60 }, (_, i) => i * 10).reduce((a, b) => a + b, 0);
    expect(stats.totals).toEqual({
      sessions: 60,
      bytesUp,
      bytesDown: bytesUp * 10,
      rejected: 6,
      failed: 0,
      aclAllow: 54,
      aclBlock: 6,
    });
    expect(stats.byNode.map((n) => [n.node, n.region, n.sessions]).sort()).toEqual([
      ["relay-eu", "eu-west", 30],
      ["relay-us", "us-east", 30],
    ]);
    expect(stats.byRegion).toHaveLength(2);
    expect(stats.topUsersBySessions.map((u) => u.sessions)).toEqual([20, 20, 20]);
    expect(stats.topUsersByBytes[0]?.user).toBe("carol"); // i = 2, 5, ..., 59: the largest
    expect(stats.topDestinations[0]).toEqual(
      expect.objectContaining({ host: "other.test", sessions: 45 }),
    );
    expect(stats.series).toHaveLength(6);
    expect(stats.series.every((b) => b.sessions === 10)).toBe(true);
    expect(stats.series[0]?.at).toBe(at(0));

    const eu = await control.admin.stats.summary.query({
      from: at(0),
      to: at(60),
      node: "relay-eu",
    });
    expect(eu.totals.sessions).toBe(30);
  });
});

describe("retention", () => {
  it("deletes sessions older than the retention window in batches, and keeps the rest", async () => {
    const temp = await startTestControl({ sessionRetentionDays: 7 });
    try {
      const relay = temp.http(await enrollNode(temp, "relay-old"));
      const old = new Date(Date.now() - 8 * 86_400_000).toISOString();
      const records = [
        ...Array.from({ length: 25 }, () => sessionRecord({ startedAt: old })),
        ...Array.from({ length: 5 }, () => sessionRecord()),
      ];
      await relay.sessions.ingest.mutate({ records });
      const deleted = await temp.app.controlPlane.runRetention();
      expect(deleted).toBe(25);
      const left = await temp.admin.sessions.history.query({ limit: 100 });
      expect(left.items).toHaveLength(5);
    } finally {
      await temp.close();
    }
  });
});

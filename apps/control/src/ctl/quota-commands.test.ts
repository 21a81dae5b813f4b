import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "../test-support/control";
import { ctlFor, heartbeat, registerRelay } from "../test-support/ctl";

let control: TestControl;
let ctl: ReturnType<typeof ctlFor>;

beforeAll(async () => {
  control = await startTestControl();
  ctl = ctlFor(control);
});
afterAll(async () => {
  await control?.close();
});

const ok = (result: { code: number | null; stdout: string; stderr: string }) => {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
};

describe("edgesocksctl quota", () => {
  it("sets a quota, sums two relays' reports into the fleet's use, and resets it", async () => {
    ok(await ctl("groups", "add", "interns"));
    ok(await ctl("quota", "set", "group:interns", "--bytes", "10MiB", "--period", "week"));
    const listed = JSON.parse(ok(await ctl("quota", "list", "--json")));
    expect(listed.quotas).toMatchObject([
      {
        subject: "group:interns",
        quota: { bytes: 10 * 2 ** 20, period: "week", direction: "total", onExhaust: "close" },
        usedBytes: 0,
        exhausted: false,
      },
    ]);
    const periodStartMs = Date.parse(listed.quotas[0].periodStart);

    // Two relays each report 6 MiB of it: together past the quota.
    const boot = randomUUID();
    const answers = [];
    for (const name of ["relay-q1", "relay-q2"]) {
      const token = await registerRelay(control, {
        name,
        region: "eu",
        publicAddress: `${name === "relay-q1" ? "192.0.2.1" : "192.0.2.2"}:1080`,
      });
      const report = { subject: "group:interns", periodStartMs, bytes: 6 * 2 ** 20 };
      answers.push(
        await control.http(token).nodes.heartbeat.mutate({
          ...heartbeat(null),
          quota: { boot, usage: [report] },
        }),
      );
      // A late, smaller report of the same process changes nothing: counts only grow.
      await control.http(token).nodes.heartbeat.mutate({
        ...heartbeat(null),
        quota: { boot, usage: [{ ...report, bytes: 1 }] },
      });
    }
    // Each relay hears what the others spent.
    expect(answers[0]!.quotas).toEqual([
      { subject: "group:interns", periodStartMs, othersBytes: 0, exhausted: false },
    ]);
    expect(answers[1]!.quotas).toEqual([
      { subject: "group:interns", periodStartMs, othersBytes: 6 * 2 ** 20, exhausted: true },
    ]);
    const text = ok(await ctl("quota", "list"));
    expect(text).toMatch(/group:interns\s+12\.0 MiB\s+10\.0 MiB\s+week \(UTC\).*EXHAUSTED/);

    expect(ok(await ctl("quota", "reset", "group:interns"))).toMatch(
      /quota of group:interns reset \(period from .*; 2 relays told\)/,
    );
    const after = JSON.parse(ok(await ctl("quota", "list", "--json")));
    expect(after.quotas[0]).toMatchObject({ usedBytes: 0, exhausted: false });
    const audit = await control.admin.audit.list.query({});
    expect(audit.items.map((a: { action: string }) => a.action)).toEqual(
      expect.arrayContaining(["quotas.set", "quotas.reset"]),
    );
  });

  it("refuses sizes, periods and subjects it does not understand, naming them", async () => {
    const bad = await ctl(
      "quota",
      "set",
      "group:interns",
      "--bytes",
      "10 parsecs",
      "--period",
      "day",
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--bytes: expected a size such as .*got "10 parsecs"/);
    const period = await ctl("quota", "set", "group:interns", "--bytes", "1GB", "--period", "year");
    expect(period.stderr).toMatch(
      /--period: expected day \| week \| month \| rolling_24h .*, got "year"/,
    );
    const subject = await ctl("quota", "reset", "interns");
    expect(subject.stderr).toMatch(/SUBJECT: expected user:NAME or group:NAME, got "interns"/);
    const throttle = await ctl(
      "quota",
      "set",
      "group:interns",
      "--bytes",
      "1GB",
      "--period",
      "day",
      "--throttle",
      "1MB",
    );
    expect(throttle.stderr).toMatch(/--throttle goes with --on-exhaust throttle/);
    const zone = await ctl("quota", "timezone", "Mars/Olympus");
    expect(zone.code).not.toBe(0);
    expect(zone.stderr).toMatch(/unknown time zone "Mars\/Olympus"/);
  });

  it("sums a rolling window's buckets still in it, from every relay", async () => {
    ok(await ctl("users", "add", "rolly"));
    ok(await ctl("quota", "set", "user:rolly", "--bytes", "1000", "--period", "rolling_24h"));
    const hour = 3_600_000;
    const bucket = Math.floor(Date.now() / hour) * hour;
    const token = await registerRelay(control, {
      name: "relay-r1",
      region: "eu",
      publicAddress: "192.0.2.9:1080",
    });
    const report = (hoursAgo: number, bytes: number) => ({
      subject: "user:rolly",
      periodStartMs: bucket - hoursAgo * hour,
      bytes,
    });
    const answer = await control.http(token).nodes.heartbeat.mutate({
      ...heartbeat(null),
      // 24 hours ago has left the window; 23 hours ago and now are in it.
      quota: { boot: randomUUID(), usage: [report(24, 5000), report(23, 400), report(0, 300)] },
    });
    expect(answer.quotas?.find((q) => q.subject === "user:rolly")).toEqual({
      subject: "user:rolly",
      periodStartMs: bucket,
      othersBytes: 0,
      exhausted: false,
    });
    const usage = JSON.parse(ok(await ctl("quota", "list", "--json")));
    expect(usage.quotas.find((q: { subject: string }) => q.subject === "user:rolly")).toMatchObject(
      { usedBytes: 700, periodStart: new Date(bucket - 23 * hour).toISOString() },
    );
  });
});

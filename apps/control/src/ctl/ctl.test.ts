import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DelayForwarder, startDelayForwarder } from "../../../../e2e/support/delay-forwarder";
import { startEchoTarget, type Target } from "../../../relay/src/test-support/targets";
import { startTestControl, type TestControl } from "../test-support/control";

const BIN = new URL("../../bin/edgesocksctl.mjs", import.meta.url).pathname;

let control: TestControl;
let url: string;

function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, "--url", url, "--token", control.adminToken, ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  control = await startTestControl();
  url = control.app.server.url;
});
afterAll(() => control?.close());

describe("edgesocksctl against a real control plane", () => {
  it("manages users, groups and rules, and tests a decision", async () => {
    expect((await ctl("groups", "add", "developers")).code).toBe(0);
    expect(
      (await ctl("users", "add", "alice", "--password", "pw", "--group", "developers")).stdout,
    ).toContain("alice created");
    const rule = await ctl(
      "rules",
      "add",
      "--owner",
      "group:developers",
      "--action",
      "block",
      "--dest",
      "*.blocked.example",
      "--port",
      "443",
      "--id",
      "no-blocked",
    );
    expect(rule.code).toBe(0);
    const users = JSON.parse((await ctl("users", "list", "--json")).stdout) as {
      username: string;
      groups: string[];
    }[];
    expect(users.find((u) => u.username === "alice")?.groups).toEqual(["developers"]);
    const rules = JSON.parse((await ctl("rules", "list", "--json")).stdout) as { id: string }[];
    expect(rules.map((r) => r.id)).toContain("no-blocked");
    const decision = JSON.parse(
      (
        await ctl(
          "acl",
          "test",
          "--user",
          "alice",
          "--dest",
          "api.blocked.example",
          "--port",
          "443",
          "--json",
        )
      ).stdout,
    );
    expect(decision.decision).toMatchObject({ action: "block", ruleId: "no-blocked" });
    expect(
      (
        await ctl(
          "acl",
          "test",
          "--user",
          "alice",
          "--dest",
          "api.blocked.example",
          "--port",
          "443",
        )
      ).stdout,
    ).toMatch(/^BLOCK/);
    expect((await ctl("users", "disable", "alice")).code).toBe(0);
    const after = JSON.parse((await ctl("users", "list", "--json")).stdout) as {
      username: string;
      enabled: boolean;
    }[];
    expect(after.find((u) => u.username === "alice")?.enabled).toBe(false);
    expect((await ctl("rules", "delete", "no-blocked")).code).toBe(0);
    expect((await ctl("users", "delete", "alice")).code).toBe(0);
  });

  it("lists, diffs and rolls back snapshots", async () => {
    const list = JSON.parse((await ctl("snapshots", "list", "--json")).stdout) as {
      items: { version: number }[];
    };
    const newest = list.items[0]!.version;
    expect((await ctl("snapshots", "diff", "1", String(newest), "--json")).code).toBe(0);
    const rollback = await ctl("snapshots", "rollback", "1");
    expect(rollback.stdout).toContain("rolled back to version 1");
    const again = JSON.parse((await ctl("snapshots", "list", "--json")).stdout) as {
      items: { version: number }[];
    };
    expect(again.items[0]!.version).toBe(newest + 1);
  });

  it("enrolls nodes and lists sessions and stats", async () => {
    const enrolled = await ctl("nodes", "enroll", "relay-x", "--region", "eu-west");
    expect(enrolled.stdout).toMatch(/ese_\S+/);
    const nodes = JSON.parse((await ctl("nodes", "list", "--json")).stdout) as { name: string }[];
    expect(nodes.map((n) => n.name)).toContain("relay-x");
    const sessions = JSON.parse((await ctl("sessions", "list", "--json")).stdout) as {
      items: unknown[];
    };
    expect(Array.isArray(sessions.items)).toBe(true);
    expect((await ctl("stats", "--json")).code).toBe(0);
  });

  it("fails with one line and exit 1 on bad input and bad tokens", async () => {
    const unknown = await ctl("frobnicate");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
    const badOwner = await ctl(
      "rules",
      "add",
      "--owner",
      "nobody",
      "--action",
      "allow",
      "--dest",
      "*",
    );
    expect(badOwner.stderr).toContain("--owner: expected user:NAME or group:NAME");
    const badCidr = await ctl(
      "rules",
      "add",
      "--owner",
      "user:anonymous",
      "--action",
      "allow",
      "--dest",
      "10.0.0.0/33",
    );
    expect(badCidr.code).toBe(1);
    expect(badCidr.stderr).toContain("10.0.0.0/33");
    const denied = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [BIN, "--url", url, "--token", "esa_wrong", "users", "list"],
        (error, _o, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
      ),
    );
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^edgesocksctl: /);
  });
});

describe("edgesocksctl nearest", () => {
  const forwarders: DelayForwarder[] = [];
  let relay: Target;

  afterAll(async () => {
    for (const f of forwarders) await f.close();
    await relay?.close();
  });

  it("measures every healthy relay and picks the closest, writing a curl config", async () => {
    // A SOCKS5 greeting responder stands in for each relay; the forwarders put distance in front of it.
    relay = await startEchoTarget("127.0.0.1", (socket) =>
      socket.on("data", () => socket.write(Buffer.from([5, 0]))),
    );
    for (const [name, delayMs] of [
      ["far", 80],
      ["near", 10],
      ["mid", 40],
    ] as const) {
      const forwarder = await startDelayForwarder({
        targetHost: "127.0.0.1",
        targetPort: relay.port,
        delayMs,
      });
      forwarders.push(forwarder);
      const { enrollmentToken } = await control.admin.nodes.enroll.mutate({
        name: `relay-${name}`,
        region: name,
      });
      const { nodeToken } = await control.http(null).nodes.exchange.mutate({
        enrollmentToken,
        softwareVersion: "test",
        publicAddress: `127.0.0.1:${forwarder.port}`,
      });
      await control.http(nodeToken).nodes.heartbeat.mutate({
        softwareVersion: "test",
        publicAddress: `127.0.0.1:${forwarder.port}`,
        appliedVersion: null,
        epoch: null,
        counters: {
          connectionsActive: 0,
          sessionsActive: 0,
          sessionsTotal: 0,
          bytesUp: 0,
          bytesDown: 0,
          rejectedTotal: 0,
          spoolBacklogBytes: 0,
        },
        activeSessions: [],
        activeSessionsTruncated: false,
      });
    }
    const curlrc = join(control.dir, "curlrc");
    const result = await ctl("nearest", "--samples", "3", "--write-curlrc", curlrc, "--json");
    expect(result.stderr).toBe("");
    const probes = JSON.parse(result.stdout) as { name: string; handshakeMs: number }[];
    expect(probes.map((p) => p.name)).toEqual(["relay-near", "relay-mid", "relay-far"]);
    expect(probes[0]!.handshakeMs).toBeGreaterThanOrEqual(20);
    expect(readFileSync(curlrc, "utf8")).toContain(
      `socks5-hostname = "127.0.0.1:${forwarders[1]!.port}"`,
    );
  });
});

describe("GET /proxy.pac", () => {
  it("lists the healthy relays that report a public address, nearest region first for a mapped client", async () => {
    await using mapped = await startTestControl({
      pacRegions: "127.0.0.0/8=ap-south,eu-west;default=eu-west,us-east",
    });
    const relays = [
      ["relay-eu", "eu-west", "192.0.2.1:1080"],
      ["relay-ap", "ap-south", "192.0.2.2:1080"],
      ["relay-quiet", "us-east", "192.0.2.3:1080"],
    ] as const;
    for (const [name, region, address] of relays) {
      const { enrollmentToken } = await mapped.admin.nodes.enroll.mutate({ name, region });
      const { nodeToken } = await mapped
        .http(null)
        .nodes.exchange.mutate({ enrollmentToken, softwareVersion: "t", publicAddress: address });
      if (name === "relay-quiet") continue; // never heard from: not healthy
      await mapped.http(nodeToken).nodes.heartbeat.mutate({
        softwareVersion: "t",
        publicAddress: address,
        appliedVersion: null,
        epoch: null,
        counters: {
          connectionsActive: 0,
          sessionsActive: 0,
          sessionsTotal: 0,
          bytesUp: 0,
          bytesDown: 0,
          rejectedTotal: 0,
          spoolBacklogBytes: 0,
        },
        activeSessions: [],
        activeSessionsTruncated: false,
      });
    }
    const response = await fetch(`${mapped.app.server.url}/proxy.pac`);
    expect(response.headers.get("content-type")).toBe("application/x-ns-proxy-autoconfig");
    const pac = await response.text();
    // The test client is on 127.0.0.0/8, mapped to ap-south first.
    expect(pac).toContain(
      '"SOCKS5 192.0.2.2:1080; SOCKS 192.0.2.2:1080; SOCKS5 192.0.2.1:1080; SOCKS 192.0.2.1:1080"',
    );
    expect(pac).not.toContain("192.0.2.3");
  });
});

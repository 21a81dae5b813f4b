import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PamFixture } from "../apps/relay/src/test-support/pam-fixture";
import { RawClient } from "../apps/relay/src/test-support/raw-client";
import { curlVia } from "../apps/relay/src/test-support/run";
import { startHttpTarget, type Target } from "../apps/relay/src/test-support/targets";
import { type ControlPlane, type FleetRelay, fleetRelay, startControl } from "./support/fleet";
import { waitFor } from "./support/processes";

// Fleet mode, issue 16: the control plane assigns pam.username to the whole fleet; PAM is
// host-local, so one relay (its [auth.pam] service exists, pam_pwdfile) logs users in and the
// other (its service file is missing) is ERROR in nodes.list with the reason and refuses logins,
// until a node override gives it a method it can run. Two real relay processes, loopback.
let pam: PamFixture;
let service: string;
let missing: string;
let target: Target;
let dir: string;
let control: ControlPlane;
let withPam: FleetRelay;
let withoutPam: FleetRelay;

const login = (relay: FleetRelay, user: string, password: string) =>
  curlVia("--socks5", relay.socks, `http://127.0.0.1:${target.port}/`, [
    "--proxy-user",
    `${user}:${password}`,
  ]);

async function node(name: string) {
  return control.api.nodes.get.query({ name });
}

beforeAll(async () => {
  pam = new PamFixture();
  const pwdfile = pam.pwdfile("users.pwd", { carol: "carol pw" });
  service = pam.service("fleet", [
    `auth required pam_pwdfile.so pwdfile=${pwdfile}`,
    "account required pam_permit.so",
  ]);
  missing = `edgesocks-test-${pam.id}-absent`;
  target = await startHttpTarget("fleet auth e2e");
  dir = mkdtempSync(join(tmpdir(), "edgesocks-fleet-auth-"));
  control = await startControl({
    name: "control-fleet-auth",
    dbPath: join(dir, "control.db"),
    host: "127.0.0.1",
  });
  const relays: [string, string, string, string][] = [
    ["relay-pam", "eu-west", "127.0.61.1", service],
    ["relay-nopam", "us-east", "127.0.62.1", missing],
  ];
  const started: FleetRelay[] = [];
  for (const [name, region, address, pamService] of relays) {
    // Loopback addresses are refused as public addresses unless enrolled as the node's own.
    const { enrollmentToken } = await control.api.nodes.enroll.mutate({
      name,
      region,
      publicAddresses: [`${address}:1080`],
    });
    started.push(
      fleetRelay({
        name,
        region,
        host: { name, address, exec: [] },
        controlUrl: control.url,
        token: enrollmentToken,
        baseDir: dir,
        configToml: `[auth.pam]\nusername_service = "${pamService}"\n`,
      }),
    );
  }
  [withPam, withoutPam] = started as [FleetRelay, FleetRelay];
  await control.api.users.create.mutate({ username: "carol", groups: [] });
  await control.api.users.create.mutate({ username: "alice", password: "alice pw", groups: [] });
  await control.api.auth.setScope.mutate({ scope: "fleet", method: "pam.username" });
  await Promise.all(started.map((r) => r.start()));
}, 60_000);

afterAll(async () => {
  await withPam?.process?.stop();
  await withoutPam?.process?.stop();
  await control?.process.stop();
  await target?.close();
  pam?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("fleet mode: a host-local auth method per relay", () => {
  it("the relay with the PAM service is SYNCED on pam.username and logs users in through PAM", async () => {
    const newest = (await control.api.snapshots.get.query({})).version;
    const view = await waitFor(
      "relay-pam SYNCED at the newest version",
      async () => {
        const got = await node("relay-pam");
        return got.configStatus === "SYNCED" && got.appliedVersion === newest ? got : undefined;
      },
      20_000,
      100,
    );
    expect(view.authMethod).toEqual({
      method: "pam.username",
      groupSource: "policy",
      scope: "fleet",
    });
    expect(view.authProblem).toBeNull();
    const ok = await login(withPam, "carol", "carol pw");
    expect(ok.stdout).toBe("fleet auth e2e");
    // PAM decides: the policy's password for alice is not what this relay checks.
    expect((await login(withPam, "alice", "alice pw")).code).not.toBe(0);
  });

  it("the relay without it is ERROR in nodes.list with the reason, and refuses logins", async () => {
    const view = await waitFor(
      "relay-nopam ERROR",
      async () => {
        const got = await node("relay-nopam");
        return got.configStatus === "ERROR" ? got : undefined;
      },
      20_000,
      100,
    );
    const reason = `pam.username: PAM service "${missing}" has no readable file /etc/pam.d/${missing} (ENOENT; [auth.pam] username_service in relay.toml)`;
    expect(view.authProblem).toBe(reason);
    expect(view.rejectionReason).toBe(`authentication unavailable: ${reason}`);
    // The version is applied: the node is ERROR for its auth method, not for a rejected snapshot.
    expect(view.appliedVersion).toBe(view.newestVersion);
    expect(view.rejectedVersion).toBeNull();
    const listed = (await control.api.nodes.list.query()).find((n) => n.name === "relay-nopam");
    expect(listed?.configStatus).toBe("ERROR");

    expect((await login(withoutPam, "carol", "carol pw")).code).not.toBe(0);
    // No fallback to another method: a client offering all of them is told none is acceptable.
    {
      using client = await RawClient.open(1080, withoutPam.host.address);
      client.write([5, 3, 0, 1, 2]);
      expect([...(await client.read(2))]).toEqual([5, 0xff]);
    }
    const refused = await waitFor(
      "auth_unavailable records from relay-nopam",
      async () => {
        const page = await control.api.sessions.history.query({ node: "relay-nopam", limit: 50 });
        const items = page.items.filter((s) => s.closeReason === "auth_unavailable");
        return items.length >= 2 ? items : undefined;
      },
      20_000,
      200,
    );
    expect(refused.every((s) => s.status === "rejected")).toBe(true);
  });

  it("recovers when a node override gives it a method it can run", async () => {
    const { version } = await control.api.auth.setScope.mutate({
      scope: "node",
      name: "relay-nopam",
      method: "userpass",
    });
    const view = await waitFor(
      "relay-nopam SYNCED on userpass",
      async () => {
        const got = await node("relay-nopam");
        return got.configStatus === "SYNCED" && got.appliedVersion === version ? got : undefined;
      },
      20_000,
      100,
    );
    expect(view.authProblem).toBeNull();
    expect(view.authMethod).toMatchObject({ method: "userpass", scope: "node" });
    expect((await login(withoutPam, "alice", "alice pw")).stdout).toBe("fleet auth e2e");
    // The other relay keeps the fleet default.
    expect((await node("relay-pam")).authMethod).toMatchObject({ method: "pam.username" });
    expect((await login(withPam, "carol", "carol pw")).stdout).toBe("fleet auth e2e");
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type PolicySnapshot, type RelayAuthScopes, sealSnapshot } from "@edgesocks/policy";
import { createLogger } from "@edgesocks/telemetry";
import { hash } from "@node-rs/argon2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { PolicyStore } from "../src/policy/policy-store";
import { type Relay, startRelay } from "../src/relay";
import type { SessionRecord } from "../src/session/record";
import { PamFixture } from "../src/test-support/pam-fixture";
import { RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget, type Target } from "../src/test-support/targets";

// Fleet mode in one process: the policy store a fleet agent feeds, compiled for one node, and the
// relay following the method the snapshot's auth.scopes give that node. Real PAM (pam_pwdfile).
let pam: PamFixture;
let pwdService: string;
let target: Target;
let version = 0;
let aliceHash: string;
const node = { name: "relay-eu-1", region: "eu-west" };

beforeAll(async () => {
  pam = new PamFixture();
  const pwdfile = pam.pwdfile("users.pwd", { carol: "carol pw" });
  pwdService = pam.service("pwd", [
    `auth required pam_pwdfile.so pwdfile=${pwdfile}`,
    "account required pam_permit.so",
  ]);
  target = await startHttpTarget("fleet auth target");
  aliceHash = await hash("alice pw");
});
afterAll(async () => {
  pam?.dispose();
  await target?.close();
});

function snapshot(scopes?: RelayAuthScopes): PolicySnapshot {
  const sealed = sealSnapshot({
    version: ++version,
    epoch: "fleet-auth-test",
    createdAt: new Date().toISOString(),
    auth: { methods: ["none", "userpass"], ...(scopes ? { scopes } : {}) },
    acl: { enabled: true, defaultPolicy: "allow" },
    users: [
      { username: "anonymous" },
      { username: "alice", passwordHash: aliceHash },
      { username: "carol" },
    ],
    groups: [],
    rules: [],
    qos: { enabled: false },
  });
  if (!sealed.ok) throw new Error(sealed.error);
  return sealed.snapshot;
}

interface FleetRelay extends AsyncDisposable {
  relay: Relay;
  store: PolicyStore;
  proxy: string;
  records: SessionRecord[];
  logs: string[];
}

async function fleetRelay(toml: string, first: PolicySnapshot): Promise<FleetRelay> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-fleet-auth-"));
  const loaded = parseConfigText(toml, "relay.toml", [
    { key: ["server", "bind_address"], value: "127.0.0.1", flag: "test" },
    { key: ["server", "bind_port"], value: 0, flag: "test" },
  ]);
  const store = new PolicyStore(node);
  // As main.ts: the cached snapshot is in force before the relay starts.
  store.apply(first);
  const records: SessionRecord[] = [];
  const logs: string[] = [];
  const relay = await startRelay({
    config: loaded.config,
    baseDir: dir,
    logger: createLogger({
      level: "info",
      destination: new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    }),
    node,
    policy: store,
    onRecord: (record) => records.push(record),
  });
  return {
    relay,
    store,
    proxy: `127.0.0.1:${relay.socksAddress().port}`,
    records,
    logs,
    [Symbol.asyncDispose]: async () => {
      await relay.close(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const url = () => `http://127.0.0.1:${target.port}/`;
const login = (proxy: string, user: string, password: string) =>
  curlVia("--socks5", proxy, url(), ["--proxy-user", `${user}:${password}`]);

/** The SOCKS5 method the relay selects for a greeting offering `methods` (0xff: none). */
async function selected(proxy: string, methods: number[]): Promise<number | "closed"> {
  using client = await RawClient.open(Number(proxy.split(":")[1]));
  client.write([5, methods.length, ...methods]);
  const reply = await client.read(2);
  return reply.length === 2 ? reply[1]! : "closed";
}

async function recordOf(relay: FleetRelay, count: number): Promise<SessionRecord> {
  for (let i = 0; i < 250 && relay.records.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return relay.records[count - 1]!;
}

describe("fleet mode: the relay runs the method its snapshot assigns", () => {
  it("a region's pam.username logs in through the relay's own [auth.pam] service", async () => {
    await using fleet = await fleetRelay(
      `[auth.pam]\nusername_service = "${pwdService}"\n`,
      snapshot({ default: { method: "none" }, regions: { "eu-west": { method: "pam.username" } } }),
    );
    expect(fleet.relay.authProblem()).toBeNull();
    expect((await login(fleet.proxy, "carol", "carol pw")).stdout).toBe("fleet auth target");
    // PAM decides, not the policy's passwords; and anonymous access is gone with method none.
    expect((await login(fleet.proxy, "alice", "alice pw")).code).not.toBe(0);
    expect(await selected(fleet.proxy, [0])).toBe(0xff);
  });

  it("a node override wins over the region's", async () => {
    await using fleet = await fleetRelay(
      `[auth.pam]\nusername_service = "${pwdService}"\n`,
      snapshot({
        regions: { "eu-west": { method: "pam.username" } },
        nodes: { "relay-eu-1": { method: "userpass" } },
      }),
    );
    expect((await login(fleet.proxy, "alice", "alice pw")).stdout).toBe("fleet auth target");
    expect((await login(fleet.proxy, "carol", "carol pw")).code).not.toBe(0);
  });

  it("without a PAM service file it reports why, refuses every login without falling back, and recovers with a method it can run", async () => {
    const missing = `edgesocks-test-${pam.id}-absent`;
    await using fleet = await fleetRelay(
      `[auth.pam]\nusername_service = "${missing}"\n`,
      snapshot({ nodes: { "relay-eu-1": { method: "pam.username" } } }),
    );
    expect(fleet.relay.authProblem()).toBe(
      `pam.username: PAM service "${missing}" has no readable file /etc/pam.d/${missing} (ENOENT; [auth.pam] username_service in relay.toml)`,
    );
    expect(fleet.logs.join("")).toContain("every login is refused until it can");
    // Every method a client may offer: none is selected (RFC 1928 0xFF), and the connection ends.
    expect(await selected(fleet.proxy, [0, 1, 2])).toBe(0xff);
    expect((await recordOf(fleet, 1)).closeReason).toBe("auth_unavailable");
    expect((await login(fleet.proxy, "alice", "alice pw")).code).not.toBe(0);
    // SOCKS4 has no method negotiation: its request is rejected (0x5B).
    {
      using client = await RawClient.open(Number(fleet.proxy.split(":")[1]));
      client.write([4, 1, target.port >> 8, target.port & 0xff, 127, 0, 0, 1, 0]);
      expect([...(await client.read(2))]).toEqual([0, 0x5b]);
    }
    const metrics = await fleet.relay.metrics.rejectedTotal.get();
    expect(metrics.values.find((v) => v.labels.reason === "auth_unavailable")?.value).toBe(3);

    // The same method again, host unchanged: still refused, still reported.
    fleet.store.apply(snapshot({ nodes: { "relay-eu-1": { method: "pam.username" } } }));
    expect(fleet.relay.authProblem()).toContain("has no readable file");
    // A method this host can run: logins work again.
    fleet.store.apply(snapshot({ nodes: { "relay-eu-1": { method: "userpass" } } }));
    expect(fleet.relay.authProblem()).toBeNull();
    expect((await login(fleet.proxy, "alice", "alice pw")).stdout).toBe("fleet auth target");
  });

  it("gssapi with an unreadable keytab is reported the same way", async () => {
    await using fleet = await fleetRelay(
      `[auth.gssapi]\nkeytab_path = "/nonexistent/edgesocks-${pam.id}.keytab"\n`,
      snapshot({ default: { method: "gssapi" } }),
    );
    expect(fleet.relay.authProblem()).toMatch(
      /^auth\.gssapi\.keytab_path: cannot read \/nonexistent\/edgesocks-\w+\.keytab \(ENOENT\)$/,
    );
    expect(await selected(fleet.proxy, [1])).toBe(0xff);
  });

  it("a snapshot without auth.scopes keeps the policy's methods (older control planes)", async () => {
    await using fleet = await fleetRelay("", snapshot());
    expect(fleet.relay.authProblem()).toBeNull();
    expect(await selected(fleet.proxy, [0])).toBe(0);
    expect((await login(fleet.proxy, "alice", "alice pw")).stdout).toBe("fleet auth target");
  });
});

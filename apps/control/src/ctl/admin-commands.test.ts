import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "../test-support/control";
import { ctlFor, heartbeat, registerRelay, runCtl } from "../test-support/ctl";

let control: TestControl;
let ctl: ReturnType<typeof ctlFor>;
const dir = mkdtempSync(join(tmpdir(), "edgesocksctl-"));

beforeAll(async () => {
  control = await startTestControl();
  ctl = ctlFor(control);
});
afterAll(async () => {
  await control?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ok = (result: { code: number | null; stdout: string; stderr: string }) => {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
};

describe("edgesocksctl policy export / import", () => {
  it("round-trips the whole policy through JSON and acl.toml, with a dry-run diff first", async () => {
    ok(await ctl("groups", "add", "developers", "--max-connections-per-user", "4"));
    ok(await ctl("users", "add", "alice", "--password", "pw", "--group", "developers"));
    ok(
      await ctl(
        ...["rules", "add", "--id", "dev-web", "--owner", "group:developers", "--action", "allow"],
        ...["--dest", "*.dev.example.com", "--port", "443", "--priority", "50"],
      ),
    );

    const exported = JSON.parse(ok(await ctl("policy", "export"))) as {
      version: number;
      users: { username: string; hasPassword: boolean }[];
      rules: { id: string }[];
    };
    expect(exported.users.find((u) => u.username === "alice")?.hasPassword).toBe(true);
    expect(JSON.stringify(exported)).not.toContain("$argon2id$");
    const toml = ok(await ctl("policy", "export", "--format", "toml"));
    expect(toml).toContain('default_policy = "allow"');
    expect(toml).toMatch(/\[\[groups\.rules\]\]\nid = "dev-web"/);

    // Importing an unchanged export changes nothing; a dry run of an edit shows it, stores nothing.
    const jsonFile = join(dir, "policy.json");
    writeFileSync(jsonFile, JSON.stringify(exported));
    expect(ok(await ctl("policy", "import", jsonFile, "--dry-run"))).toContain("(no changes)");
    const tomlFile = join(dir, "acl.toml");
    writeFileSync(
      tomlFile,
      toml
        .replace('default_policy = "allow"', 'default_policy = "block"')
        .replace('"*.dev.example.com"', '"*.dev.example.com", "10.0.0.0/8"'),
    );
    const dry = ok(await ctl("policy", "import", tomlFile, "--dry-run"));
    expect(dry).toMatch(/^~ rule dev-web {2}destinations: .*"10\.0\.0\.0\/8"/m);
    expect(dry).toMatch(/^~ acl .*"block"/m);
    expect(dry).toContain("(dry run: nothing was changed)");
    const before = (await control.admin.snapshots.get.query({})).version;
    expect(before).toBe(exported.version);

    expect(ok(await ctl("policy", "import", tomlFile))).toBe(
      `policy imported from ${tomlFile} (snapshot v${before + 1})\n`,
    );
    const after = await control.admin.snapshots.get.query({});
    expect(after.version).toBe(before + 1);
    expect(after.snapshot.acl.defaultPolicy).toBe("block");
    expect(after.snapshot.rules.find((r) => r.id === "dev-web")?.destinations).toEqual([
      "*.dev.example.com",
      "10.0.0.0/8",
    ]);
    // What acl.toml cannot say stays: alice's password, the group's limit.
    const alice = after.snapshot.users.find((u) => u.username === "alice");
    expect(alice?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(after.snapshot.groups).toEqual([
      expect.objectContaining({ name: "developers", maxConnectionsPerUser: 4 }),
    ]);
    const audit = await control.admin.audit.list.query({ limit: 1, action: "policy.import" });
    expect(audit.items[0]).toMatchObject({ actor: "admin", snapshotVersion: before + 1 });

    // The lossless JSON of before restores it as one more version.
    expect(ok(await ctl("policy", "import", jsonFile, "--json"))).toContain(
      `"version": ${before + 2}`,
    );
    const restored = await control.admin.snapshots.get.query({});
    expect(restored.snapshot.acl.defaultPolicy).toBe("allow");
    expect(restored.snapshot.rules.find((r) => r.id === "dev-web")?.destinations).toEqual([
      "*.dev.example.com",
    ]);
  });

  it("refuses bad files naming the problem, and changes nothing", async () => {
    const version = (await control.admin.snapshots.get.query({})).version;
    const badToml = join(dir, "bad.toml");
    writeFileSync(badToml, '[[users]]\nusername = "x"\ngroups = ["nope"]\n');
    const unknownKey = join(dir, "bad.json");
    writeFileSync(unknownKey, JSON.stringify({ users: [], groups: [], rules: [], qoss: {} }));
    const noSuffix = join(dir, "policy");
    writeFileSync(noSuffix, "{}");
    const scheduled = join(dir, "scheduled.toml");
    writeFileSync(
      scheduled,
      '[[users]]\nusername = "x"\n[[users.rules]]\nid = "office"\naction = "allow"\ndestinations = ["*"]\nports = ["*"]\nsources = ["country:DE"]\n',
    );
    const [toml, json, suffix, output, standaloneOnly] = await Promise.all([
      ctl("policy", "import", badToml),
      ctl("policy", "import", unknownKey, "--dry-run"),
      ctl("policy", "import", noSuffix),
      ctl("policy", "export", "--output", join(dir, "out.toml"), "--format", "toml"),
      ctl("policy", "import", scheduled),
    ]);
    expect(toml).toMatchObject({ code: 1, stdout: "" });
    expect(toml.stderr).toBe(
      'edgesocksctl: users[0] (x).groups[0]: unknown group "nope"; define it with [[groups]] name = "nope"\n',
    );
    expect(json.stderr).toBe(
      'edgesocksctl: unknown key "qoss" (known keys: version, users, groups, rules, acl, auth, qos)\n',
    );
    // Dropped by the import, `sources` would turn the rule into an allow for every client.
    expect(standaloneOnly).toMatchObject({ code: 1, stdout: "" });
    expect(standaloneOnly.stderr).toContain(
      "rule office: sources and schedule are enforced by standalone relays only",
    );
    expect(suffix).toMatchObject({ code: 2 });
    expect(suffix.stderr).toContain("pass --format");
    expect(ok(output)).toMatch(/^policy v\d+ written to .*out\.toml \(toml\)\n$/);
    expect(readFileSync(join(dir, "out.toml"), "utf8")).toContain("[global]");
    expect((await control.admin.snapshots.get.query({})).version).toBe(version);
  });
});

describe("edgesocksctl settings, tokens, audit and sessions terminate", () => {
  it("shows and changes the QoS, auth and ACL settings", async () => {
    ok(await ctl("settings", "qos", "--enable", "--max-bytes-per-sec", "1000000"));
    ok(await ctl("settings", "qos", "--max-bytes-per-sec", "none", "--burst-bytes", "65536"));
    ok(await ctl("settings", "auth", "--methods", "none,userpass"));
    expect(ok(await ctl("settings", "acl", "--default-policy", "block"))).toMatch(
      /^acl settings saved \(snapshot v\d+\)\n$/,
    );
    const shown = JSON.parse(ok(await ctl("settings", "show", "--json")));
    expect(shown).toMatchObject({
      qos: { enabled: true, maxBytesPerSec: null, burstBytes: 65536 },
      auth: { methods: ["none", "userpass"] },
      acl: { enabled: true, defaultPolicy: "block" },
    });
    expect(ok(await ctl("settings", "show"))).toMatch(/^qos\.burstBytes\s+65536$/m);
    const [nothing, both, bad] = await Promise.all([
      ctl("settings", "qos"),
      ctl("settings", "acl", "--enable", "--no-enable"),
      ctl("settings", "auth", "--methods", "pam"),
    ]);
    expect(nothing).toMatchObject({ code: 2 });
    expect(nothing.stderr).toBe(
      "edgesocksctl: nothing to change (see edgesocksctl settings qos --help)\n",
    );
    expect(both.stderr).toBe("edgesocksctl: --enable and --no-enable cannot be used together\n");
    expect(bad.stderr).toBe('edgesocksctl: --methods: expected none | userpass, got "pam"\n');
    ok(await ctl("settings", "acl", "--default-policy", "allow"));
  });

  it("creates, lists and revokes API tokens; a revoked token no longer works", async () => {
    const made = JSON.parse(
      ok(await ctl("tokens", "create", "grafana", "--role", "viewer", "--json")),
    );
    expect(made).toMatchObject({
      name: "grafana",
      role: "viewer",
      token: expect.stringMatching(/^esa_/),
    });
    const human = ok(await ctl("tokens", "create", "grafana", "--label", "ci"));
    const second = /^token: (esa_\S+)$/m.exec(human)?.[1];
    expect(second).toBeDefined();
    const viewer = (...args: string[]) =>
      runCtl(["--url", control.app.server.url, "--token", second!, ...args]);
    expect(ok(await viewer("users", "list"))).toContain("anonymous");

    const listed = JSON.parse(ok(await ctl("tokens", "list", "--json"))) as {
      name: string;
      tokens: { id: number; label: string }[];
    }[];
    const ci = listed.find((a) => a.name === "grafana")!.tokens.find((t) => t.label === "ci")!;
    expect(ok(await ctl("tokens", "list"))).toMatch(
      new RegExp(`^grafana\\s+viewer\\s+${ci.id}\\s+ci\\s`, "m"),
    );
    expect(ok(await ctl("tokens", "revoke", String(ci.id)))).toBe(`token ${ci.id} revoked\n`);
    const denied = await viewer("users", "list");
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("(API_E_UNAUTHORIZED)");
    const [again, notNumber, roles] = await Promise.all([
      ctl("tokens", "revoke", String(ci.id)),
      ctl("tokens", "revoke", "ci"),
      runCtl(["tokens", "roles"]),
    ]);
    expect(again.stderr).toBe(`edgesocksctl: token ${ci.id} is not active (API_E_NOT_FOUND)\n`);
    expect(notNumber).toMatchObject({ code: 2 });
    // Offline: no token needed.
    expect(ok(roles)).toMatch(/^viewer\s+read everything/m);
  });

  it("lists the audit log with filters and pages", async () => {
    const page = JSON.parse(ok(await ctl("audit", "list", "--action", "admins.create", "--json")));
    expect(page.items).toEqual([
      expect.objectContaining({ actor: "admin", action: "admins.create", target: "admin grafana" }),
    ]);
    const human = ok(await ctl("audit", "list", "--limit", "2"));
    expect(human.split("\n")[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+TARGET\s+SNAPSHOT$/);
    const cursor = /\(more: --cursor (\d+)\)/.exec(human)?.[1];
    expect(cursor).toBeDefined();
    const next = ok(await ctl("audit", "list", "--limit", "2", "--cursor", cursor!));
    expect(next.split("\n")[1]).not.toBe(human.split("\n")[1]);
  });

  it("terminates an active session on the relay holding it", async () => {
    const id = randomUUID();
    const nodeToken = await registerRelay(control, {
      name: "relay-t",
      region: "eu-west",
      publicAddress: "192.0.2.9:1080",
      heartbeat: false,
    });
    await control.http(nodeToken).nodes.heartbeat.mutate({
      ...heartbeat("192.0.2.9:1080"),
      activeSessions: [
        {
          id,
          user: "alice",
          clientAddress: "198.51.100.1",
          clientPort: 40000,
          command: "connect",
          transport: "tcp",
          destinationHost: "example.com",
          destinationAddress: null,
          destinationPort: 443,
          startedAt: new Date().toISOString(),
          bytesUp: 0,
          bytesDown: 0,
        },
      ],
    });
    expect(ok(await ctl("sessions", "terminate", id))).toBe(
      `terminate of session ${id} sent to node relay-t\n`,
    );
    const audit = await control.admin.audit.list.query({ action: "sessions.terminate" });
    expect(audit.items[0]).toMatchObject({ target: `session ${id}`, after: { node: "relay-t" } });
    const unknown = await ctl("sessions", "terminate", randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/is not active on any node .*\(API_E_NOT_FOUND\)\n$/);
  });
});

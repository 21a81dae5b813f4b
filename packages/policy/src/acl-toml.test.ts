import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileAcl } from "./acl/compile";
import { evaluate } from "./acl/evaluate";
import type { AclRequest } from "./acl/types";
import { type AclToml, aclTomlToSnapshotParts, parseAclToml } from "./acl-toml";
import { sealSnapshot } from "./snapshot";

const fixture = readFileSync(new URL("./fixtures/rustsocks-acl.toml", import.meta.url), "utf8");

function load(text: string): { acl: AclToml; warnings: string[] } {
  const result = parseAclToml(text);
  if (!result.ok) throw new Error(result.error);
  return result;
}

function errorOf(text: string): string {
  const result = parseAclToml(text);
  if (result.ok) throw new Error("expected the file to be rejected");
  return result.error;
}

describe("parseAclToml: a RustSocks acl.toml", () => {
  const { acl, warnings } = load(fixture);

  it("loads users, groups and rules with deterministic ids and RustSocks defaults", () => {
    expect(warnings).toEqual([]);
    expect(acl.defaultPolicy).toBe("block");
    expect(acl.users).toEqual([
      { username: "anonymous", groups: [] },
      { username: "alice", groups: ["developers"] },
      { username: "bob", groups: ["readonly"] },
      { username: "carol", groups: ["Domain Admins@ad.company.com", "readonly"] },
    ]);
    expect(acl.groups.map((g) => g.name)).toEqual([
      "developers",
      "readonly",
      "Domain Admins@ad.company.com",
    ]);
    expect(acl.rules.map((r) => r.id)).toEqual([
      "user:anonymous#0",
      "user:anonymous#1",
      "user:alice#0",
      "user:alice#1",
      "user:alice#2",
      "user:bob#0",
      "group:developers#0",
      "group:readonly#0",
      "group:Domain Admins@ad.company.com#0",
    ]);
    const gateways = acl.rules.find((r) => r.id === "user:alice#2")!;
    expect(gateways).toEqual({
      id: "user:alice#2",
      owner: { kind: "user", name: "alice" },
      action: "allow",
      description: "Production API gateways",
      destinations: ["prod-*.company.com", "api.*.com", "2001:db8:100::/48"],
      ports: ["80,443,8080"],
      protocols: ["both"],
      priority: 100,
    });
    expect(acl.rules.find((r) => r.id === "group:developers#0")!.protocols).toEqual(["both"]);
    expect(acl.rules.find((r) => r.id === "user:bob#0")!.description).toBeUndefined();
  });

  it("builds a snapshot that decides as RustSocks documents", () => {
    const parts = aclTomlToSnapshotParts(acl, [
      { username: "alice", password: "secret123" },
      { username: "bob", passwordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" },
    ]);
    const sealed = sealSnapshot({
      version: 1,
      epoch: "standalone",
      createdAt: "2025-01-01T00:00:00Z",
      auth: { methods: ["none", "userpass"] },
      qos: { enabled: false },
      ...parts,
    });
    if (!sealed.ok) throw new Error(sealed.error);
    const compiled = compileAcl(sealed.snapshot);
    const decide = (req: Partial<AclRequest> & { user: string; host: string }) =>
      evaluate(compiled, { port: 443, protocol: "tcp", ...req }).ruleId;

    expect(decide({ user: "alice", host: "admin.company.com" })).toBe("user:alice#0");
    expect(decide({ user: "alice", host: "10.9.9.9", port: 8500 })).toBe("user:alice#1");
    expect(decide({ user: "alice", host: "API.Example.com", port: 8080 })).toBe("user:alice#2");
    expect(decide({ user: "alice", host: "prod-eu.company.com", protocol: "udp", port: 80 })).toBe(
      "user:alice#2",
    );
    expect(decide({ user: "alice", host: "db.dev.company.com", port: 5432, protocol: "udp" })).toBe(
      "group:developers#0",
    );
    expect(decide({ user: "alice", host: "10.1.2.3", port: 22 })).toBe("group:developers#0");
    expect(decide({ user: "alice", host: "www.example.org" })).toBeNull();
    expect(decide({ user: "carol", host: "anything.example", port: 6000, protocol: "udp" })).toBe(
      "group:Domain Admins@ad.company.com#0",
    );
    // A group's block beats another group's higher-priority allow.
    expect(decide({ user: "carol", host: "anything.example", port: 22 })).toBe("group:readonly#0");
    expect(decide({ user: "bob", host: "db-replica.company.com", port: 5432 })).toBe("user:bob#0");
    expect(decide({ user: "bob", host: "db-replica.company.com", port: 22 })).toBe(
      "group:readonly#0",
    );
    expect(decide({ user: "bob", host: "elsewhere.example" })).toBeNull();
    expect(decide({ user: "anonymous", host: "example.org" })).toBe("user:anonymous#0");
    expect(decide({ user: "anonymous", host: "sneaky.example", address: "192.168.1.1" })).toBe(
      "user:anonymous#1",
    );
  });
});

describe("parseAclToml: errors and warnings", () => {
  it("names the user, rule and field of a bad port", () => {
    const text = `
[[users]]
username = "alice"
  [[users.rules]]
  action = "allow"
  destinations = ["*"]
  ports = ["443"]
  [[users.rules]]
  action = "allow"
  destinations = ["*"]
  ports = ["443"]
  [[users.rules]]
  action = "allow"
  destinations = ["*"]
  ports = ["70000"]
`;
    expect(errorOf(text)).toBe(
      'users[0] (alice).rules[2].ports[0]: "70000" is not a port (0-65535)',
    );
  });

  it("names a bad destination in a group rule", () => {
    const text = `
[[groups]]
name = "ops"
  [[groups.rules]]
  action = "block"
  destinations = ["10.0.0.0/33"]
  ports = ["*"]
`;
    expect(errorOf(text)).toBe(
      'groups[0] (ops).rules[0].destinations[0]: "10.0.0.0/33" is not a valid CIDR (prefix must be 0-32)',
    );
  });

  it("accepts values exactly as RustSocks does: lowercase only", () => {
    expect(errorOf('[global]\ndefault_policy = "Block"\n')).toBe(
      'global.default_policy: Invalid option: expected one of "allow"|"block"',
    );
    const text = `[[groups]]\nname = "g"\n[[groups.rules]]\naction = "ALLOW"\ndestinations = ["*"]\nports = ["*"]\nprotocols = ["TCP"]\n`;
    expect(errorOf(text).split("\n")).toEqual([
      'groups[0] (g).rules[0].action: Invalid option: expected one of "allow"|"block"',
      'groups[0] (g).rules[0].protocols[0]: Invalid option: expected one of "tcp"|"udp"|"both"|"*"',
    ]);
  });

  it("requires action and a non-negative 32-bit priority", () => {
    const text = `[[groups]]\nname = "g"\n[[groups.rules]]\ndestinations = ["*"]\nports = ["*"]\npriority = -1\n`;
    expect(errorOf(text).split("\n")).toEqual([
      'groups[0] (g).rules[0].action: Invalid option: expected one of "allow"|"block"',
      "groups[0] (g).rules[0].priority: Too small: expected number to be >=0",
    ]);
  });

  it("reports duplicate users and groups and unknown group references, as RustSocks does", () => {
    const text = `
[[users]]
username = "alice"
groups = ["devs", "ops"]
[[users]]
username = "alice"
[[groups]]
name = "devs"
[[groups]]
name = "devs"
`;
    expect(errorOf(text).split("\n")).toEqual([
      'groups[1] (devs).name: duplicate group "devs" (first at groups[0])',
      'users[0] (alice).groups[1]: unknown group "ops"; define it with [[groups]] name = "ops"',
      'users[1] (alice).username: duplicate user "alice" (first at users[0])',
    ]);
  });

  it("reports TOML syntax errors with line and column", () => {
    expect(errorOf('[global]\ndefault_policy = "block\n')).toMatch(
      /^TOML syntax error at line 2, column \d+: /,
    );
  });

  it("refuses RustSocks dynamic [[policies]] rather than dropping them", () => {
    expect(errorOf('[[policies]]\nid = "x"\naction = "block"\n')).toMatch(
      /^policies: .* not supported/,
    );
  });

  it("defaults default_policy to block and everything else to empty", () => {
    expect(load("").acl).toEqual({
      defaultPolicy: "block",
      routes: [],
      users: [],
      groups: [],
      rules: [],
    });
  });

  it("skips, with a warning, rules RustSocks would never match", () => {
    const text = `
[[groups]]
name = "g"
  [[groups.rules]]
  action = "block"
  destinations = ["*"]
  [[groups.rules]]
  action = "allow"
  destinations = ["*"]
  ports = ["*"]
  protocols = []
  [[groups.rules]]
  action = "allow"
  destinations = ["*"]
  ports = [443]
`;
    const { acl, warnings } = load(text);
    expect(acl.rules.map((r) => [r.id, r.ports])).toEqual([["group:g#2", ["443"]]]);
    expect(warnings).toEqual([
      "groups[0] (g).rules[0]: skipped: ports is empty, so the rule never matches (as in RustSocks)",
      "groups[0] (g).rules[1]: skipped: protocols is empty, so the rule never matches (as in RustSocks)",
    ]);
  });

  it("takes a rule's EdgeSocks id key, refusing a duplicate or malformed one", () => {
    const rule = (id: string) =>
      `[[groups.rules]]\nid = "${id}"\naction = "allow"\ndestinations = ["*"]\nports = ["443"]\n`;
    const { acl } = load(
      `[[groups]]\nname = "devs"\n${rule("dev-web")}[[groups.rules]]\naction = "block"\ndestinations = ["*"]\nports = ["22"]\n`,
    );
    expect(acl.rules.map((r) => r.id)).toEqual(["dev-web", "group:devs#1"]);
    expect(errorOf(`[[groups]]\nname = "devs"\n${rule("a")}${rule("a")}`)).toBe(
      'groups[0] (devs).rules[1].id: duplicate rule id "a" (first at groups[0] (devs).rules[0])',
    );
    expect(errorOf(`[[groups]]\nname = "devs"\n${rule("no spaces")}`)).toMatch(
      /^groups\[0\] \(devs\)\.rules\[0\]\.id: .*letters, digits/,
    );
  });

  it("refuses unknown keys, naming the closest known one, where RustSocks ignores them", () => {
    const result = parseAclToml(`
[global]
default_policy = "allow"
watch = true
[[users]]
username = "alice"
  [[users.rules]]
  action = "block"
  destination = ["10.0.0.0/8"]
  ports = ["*"]
`);
    expect(result).toEqual({
      ok: false,
      error: [
        'global.watch: unknown key "watch" (known keys: default_policy)',
        'users[0] (alice).rules[0].destination: unknown key "destination" (did you mean "destinations"?)',
      ].join("\n"),
    });
  });
});

describe("aclTomlToSnapshotParts", () => {
  it("merges configured users with acl.toml users and resolves their groups case-insensitively", () => {
    const { acl } = load(`
[[users]]
username = "alice"
groups = ["developers"]
[[users]]
username = "anonymous"
[[groups]]
name = "developers"
`);
    const parts = aclTomlToSnapshotParts(acl, [
      { username: "alice", password: "pw", groups: ["Developers", "wheel"] },
      { username: "carol", passwordHash: "$argon2id$x" },
    ]);
    expect(parts.acl).toEqual({ enabled: true, defaultPolicy: "block" });
    expect(parts.groups).toEqual([{ name: "developers" }, { name: "wheel" }]);
    expect(parts.users).toEqual([
      { username: "alice", password: "pw", groups: ["developers", "wheel"] },
      { username: "carol", passwordHash: "$argon2id$x", groups: [] },
      { username: "anonymous", groups: [] },
    ]);
  });
});

describe("parseAclToml: [[routes]]", () => {
  const routes = `
[[routes]]
name = "via-parent"
resolve = "remote"
selector = "round"
max_fails = 3
fail_timeout_secs = 10
[[routes.chains]]
hops = [{ type = "socks5", host = "127.0.0.1", port = 1081, username = "u", password = "p" }]
[[routes.chains]]
[[routes.chains.hops]]
type = "socks4a"
host = "127.0.0.1"
port = 1082
user_id = "relay"

[[users]]
username = "alice"
[[users.rules]]
action = "allow"
destinations = ["*"]
ports = ["*"]
route = "via-parent"
`;

  it("loads routes into the snapshot's shape and a rule's route", () => {
    const { acl } = load(routes);
    expect(acl.routes).toEqual([
      {
        name: "via-parent",
        resolve: "remote",
        selector: "round",
        maxFails: 3,
        failTimeoutSecs: 10,
        chains: [
          {
            hops: [{ type: "socks5", host: "127.0.0.1", port: 1081, username: "u", password: "p" }],
          },
          { hops: [{ type: "socks4a", host: "127.0.0.1", port: 1082, userId: "relay" }] },
        ],
      },
    ]);
    expect(acl.rules[0]!.route).toBe("via-parent");
    const sealed = sealSnapshot({
      version: 1,
      epoch: "t",
      createdAt: "2025-01-01T00:00:00Z",
      auth: { methods: ["none"] },
      qos: { enabled: false },
      ...aclTomlToSnapshotParts(acl),
    });
    expect(sealed.ok).toBe(true);
  });

  it("adds no routes key when the file defines none", () => {
    expect("routes" in aclTomlToSnapshotParts(load("").acl)).toBe(false);
  });

  it("refuses an unknown route key, naming it in acl.toml's spelling", () => {
    expect(errorOf(routes.replace("max_fails = 3", "max_fail = 3"))).toBe(
      'routes[0].max_fail: unknown key "max_fail" (did you mean "max_fails"?)',
    );
    expect(errorOf(routes.replace('user_id = "relay"', 'user_id = "relay"\npasword = "x"'))).toBe(
      'routes[0].chains[1].hops[0].pasword: unknown key "pasword" (did you mean "password"?)',
    );
    expect(errorOf(routes.replace("max_fails = 3", "max_fails = 0"))).toBe(
      "routes[0].max_fails: Too small: expected number to be >=1",
    );
  });

  it("reads proxy_protocol on a chain and refuses an unknown version", () => {
    const withHeader = routes.replace(
      "[[routes.chains]]\nhops",
      '[[routes.chains]]\nproxy_protocol = "v2"\nhops',
    );
    expect(load(withHeader).acl.routes[0]!.chains[0]!.proxyProtocol).toBe("v2");
    expect(errorOf(withHeader.replace('"v2"', '"v9"'))).toBe(
      'routes[0].chains[0].proxy_protocol: must be "v1" or "v2" (PROXY protocol version for the first hop)',
    );
  });

  it("refuses a rule naming a route that is not defined, or a block rule with a route", () => {
    expect(errorOf(routes.replace('route = "via-parent"', 'route = "nowhere"'))).toBe(
      'users[0] (alice).rules[0].route: unknown route "nowhere" (routes: via-parent)',
    );
    expect(errorOf(routes.replace('action = "allow"', 'action = "block"'))).toBe(
      "users[0] (alice).rules[0].route: only an allow rule can name a route (a block rule reaches nothing)",
    );
  });
});

import { describe, expect, it } from "vitest";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

// alice (developers) and bob (no group) authenticate with passwords; names
// under *.dev.example resolve to 127.0.0.1 through the relay's static hosts.
const config = `
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password = "alice-pw"
groups = ["developers"]
[[auth.users]]
username = "bob"
password = "bob-pw"

[acl]
enabled = true
config_file = "acl.toml"

[dns.hosts]
"api.dev.example" = "127.0.0.1"
"deep.api.dev.example" = "127.0.0.1"
"intranet.example" = "127.0.0.2"
"www.public.example" = "127.0.0.1"
`;

const acl = (targetPort: number) => `
[global]
default_policy = "block"

[[users]]
username = "bob"
groups = []
[[users.rules]]
action = "allow"
description = "bob: public web on the target's port range"
destinations = ["www.public.example"]
ports = ["${targetPort - 1}-${targetPort + 1}"]
protocols = ["tcp"]
priority = 10

[[users]]
username = "alice"
groups = ["developers"]
[[users.rules]]
action = "block"
description = "alice may not reach 127.0.0.2"
destinations = ["127.0.0.2/32"]
ports = ["*"]
protocols = ["both"]
priority = 100

[[groups]]
name = "developers"
[[groups.rules]]
action = "allow"
description = "dev hosts"
destinations = ["*.dev.example", "127.0.0.0/8"]
ports = ["*"]
protocols = ["both"]
priority = 50
`;

async function setup() {
  const target = await startHttpTarget("ok");
  const target2 = await startHttpTarget("ok2", "127.0.0.2");
  const relay = await startTestRelay(config, acl(target.port));
  const get = (user: string, host: string, port = target.port) =>
    curlVia("--socks5-hostname", relay.proxy, `http://${host}:${port}/`, ["--proxy-user", user]);
  return {
    target,
    target2,
    relay,
    get,
    [Symbol.asyncDispose]: async () => {
      await relay[Symbol.asyncDispose]();
      await target.close();
      await target2.close();
    },
  };
}

describe("ACL enforcement through the relay", () => {
  it("allows by group wildcard domain (any depth) and by group CIDR", async () => {
    await using s = await setup();
    expect((await s.get("alice:alice-pw", "api.dev.example")).stdout).toBe("ok");
    expect((await s.get("alice:alice-pw", "deep.api.dev.example")).stdout).toBe("ok");
    expect((await s.get("alice:alice-pw", "127.0.0.1")).stdout).toBe("ok");
  });

  it("a user's block beats the group's allow, also when reached by name", async () => {
    await using s = await setup();
    const byAddress = await s.get("alice:alice-pw", "127.0.0.2", s.target2.port);
    expect(byAddress.code).not.toBe(0);
    const byName = await s.get("alice:alice-pw", "intranet.example", s.target2.port);
    expect(byName.code).not.toBe(0);
    const records = await s.relay.waitForRecords(2);
    expect(records.map((r) => [r.decision, r.closeReason])).toEqual([
      ["block", "acl_blocked"],
      ["block", "acl_blocked"],
    ]);
    expect(records[0]!.ruleId).toBeTruthy();
  });

  it("allows by user rule with a port range and blocks outside it", async () => {
    await using s = await setup();
    expect((await s.get("bob:bob-pw", "www.public.example")).stdout).toBe("ok");
    expect((await s.get("bob:bob-pw", "www.public.example", s.target.port + 2)).code).not.toBe(0);
  });

  it("falls back to the default policy when nothing matches", async () => {
    await using s = await setup();
    const result = await s.get("bob:bob-pw", "api.dev.example");
    expect(result.code).not.toBe(0);
    const [record] = await s.relay.waitForRecords(1);
    expect(record).toMatchObject({ decision: "block", ruleId: null, closeReason: "acl_blocked" });
  });

  it("applies an edited ACL file without a restart and keeps the old rules when the new file is invalid", async () => {
    await using s = await setup();
    expect((await s.get("bob:bob-pw", "api.dev.example")).code).not.toBe(0);
    const before = s.relay.relay.policy.current.snapshot.version;
    s.relay.writeAcl(`${acl(s.target.port)}
[[users]]
username = "bob"
groups = ["developers"]
`);
    // Duplicate user: invalid. The watcher must reject it and keep the old policy.
    await new Promise((r) => setTimeout(r, 400));
    expect(s.relay.relay.policy.current.snapshot.version).toBe(before);
    expect((await s.get("bob:bob-pw", "api.dev.example")).code).not.toBe(0);

    s.relay.writeAcl(
      acl(s.target.port).replace(
        'username = "bob"\ngroups = []',
        'username = "bob"\ngroups = ["developers"]',
      ),
    );
    await expect
      .poll(() => s.relay.relay.policy.current.snapshot.version, { timeout: 3000 })
      .toBeGreaterThan(before);
    expect((await s.get("bob:bob-pw", "api.dev.example")).stdout).toBe("ok");
  });

  it("reload() (SIGHUP) applies a valid file and rejects an unparsable one", async () => {
    await using s = await setup();
    const version = s.relay.relay.policy.current.snapshot.version;
    s.relay.writeAcl("this is [not toml");
    expect(s.relay.relay.reload()).toBe(false);
    expect(s.relay.relay.policy.current.snapshot.version).toBe(version);
    expect((await s.get("alice:alice-pw", "api.dev.example")).stdout).toBe("ok");
    s.relay.writeAcl(acl(s.target.port));
    expect(s.relay.relay.reload()).toBe(true);
  });

  it("a reload whose block rule misspells a field is rejected and the block stays in force", async () => {
    await using s = await setup();
    expect((await s.get("alice:alice-pw", "127.0.0.2", s.target2.port)).code).not.toBe(0);
    const version = s.relay.relay.policy.current.snapshot.version;
    // RustSocks would drop the rule's destinations (an empty list matches nothing).
    s.relay.writeAcl(
      acl(s.target.port).replace(
        'destinations = ["127.0.0.2/32"]',
        'destination = ["127.0.0.2/32"]',
      ),
    );
    expect(s.relay.relay.reload()).toBe(false);
    expect(s.relay.relay.policy.current.snapshot.version).toBe(version);
    expect((await s.get("alice:alice-pw", "127.0.0.2", s.target2.port)).code).not.toBe(0);
    expect((await s.get("alice:alice-pw", "api.dev.example")).stdout).toBe("ok");
  });
});

describe("ACL by name and address", () => {
  it("resolves a name the default policy would block when an allow-CIDR rule may match its address", async () => {
    await using target = await startHttpTarget("via cidr");
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n[dns.hosts]\n"intranet.corp" = "127.0.0.1"\n`,
      `[global]\ndefault_policy = "block"\n[[users]]\nusername = "anonymous"\n[[users.rules]]\naction = "allow"\ndestinations = ["127.0.0.0/8"]\nports = ["*"]\n`,
    );
    const result = await curlVia(
      "--socks5-hostname",
      relay.proxy,
      `http://intranet.corp:${target.port}/`,
    );
    expect(result.stdout).toBe("via cidr");
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ decision: "allow", ruleId: "user:anonymous#0" });
    // One request, one decision: the evaluations by name and by address are not counted twice.
    const metrics = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_acl_decisions_total",
    );
    expect(metrics).toContain('{action="allow",rule="user:anonymous#0"} 1');
    expect(metrics).not.toContain('action="block"');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LdapDirectory } from "../src/test-support/ldap-fixture";
import { eventually, spooledRecords, startRelayProcess } from "../src/test-support/relay-process";
import { curlVia, run } from "../src/test-support/run";
import { startHttpTarget, type Target } from "../src/test-support/targets";

// A real directory: slapd on loopback, nslcd in front of it, and the relay's
// group lookup (`id -Gnz`) reading it through nss_wrapper and libnss_ldap.
// Needs root (mount namespaces), slapd, ldap-utils, nslcd, libnss-ldapd and
// libnss-wrapper.
let ldap: LdapDirectory;
let staff: Target;
let vpn: Target;

beforeAll(async () => {
  ldap = await LdapDirectory.start({
    users: [
      // Primary group "Domain Users", as a directory synchronised from AD has it.
      { uid: "ldap-alice", uidNumber: 30_001, gidNumber: 30_100 },
      { uid: "ldap-bob", uidNumber: 30_002, gidNumber: 30_200 },
    ],
    groups: [
      { cn: "Domain Users", gidNumber: 30_100, members: [] },
      { cn: "contractors", gidNumber: 30_200, members: [] },
      { cn: "staff", gidNumber: 30_300, members: ["ldap-alice"] },
    ],
  });
  staff = await startHttpTarget("staff only");
  vpn = await startHttpTarget("vpn users only");
});

afterAll(async () => {
  await staff?.close();
  await vpn?.close();
  await ldap?.[Symbol.asyncDispose]();
});

const rule = (group: string, port: number) => `
[[groups]]
name = "${group}"
[[groups.rules]]
action = "allow"
destinations = ["127.0.0.1"]
ports = ["${port}"]
protocols = ["tcp"]
priority = 10
`;

/** The real relay binary with `group_source = "nss"` whose lookup reads the directory. */
async function startLdapRelay(ttlSecs: number) {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-ldap-relay-"));
  const env = Object.entries(ldap.lookupEnv)
    .map(([name, value]) => `${name} = "${value}"`)
    .join("\n");
  writeFileSync(
    join(dir, "relay.toml"),
    `
[server]
# One thread, so one group cache: every worker thread keeps its own.
workers = 1
[auth]
socks_method = "userpass"
group_source = "nss"
group_cache_ttl_secs = ${ttlSecs}
[[auth.users]]
username = "ldap-alice"
password = "alice pw"
[[auth.users]]
username = "ldap-bob"
password = "bob pw"
[[auth.users]]
username = "not-in-ldap"
password = "nobody pw"
[auth.group_lookup_env]
${env}
[acl]
enabled = true
config_file = "acl.toml"
`,
  );
  writeFileSync(
    join(dir, "acl.toml"),
    `[global]\ndefault_policy = "block"\n${rule("Domain Users", staff.port)}${rule("VPN Users", vpn.port)}`,
  );
  const relay = await startRelayProcess({
    configPath: join(dir, "relay.toml"),
    stateDir: join(dir, "state"),
    prefix: ldap.prefix,
  });
  return {
    relay,
    proxy: `127.0.0.1:${relay.port}`,
    records: () => spooledRecords(join(dir, "state", "spool")),
    [Symbol.asyncDispose]: async () => {
      await relay[Symbol.asyncDispose]();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const via = (proxy: string, target: Target, credentials: string) =>
  curlVia("--socks5", proxy, `http://127.0.0.1:${target.port}/`, ["--proxy-user", credentials]);

describe('auth.group_source = "nss" against a real LDAP directory (slapd + nslcd)', () => {
  it('a rule owned by the LDAP group "Domain Users" lets its member through and refuses others; the host\'s NSS never sees the directory', async () => {
    await using started = await startLdapRelay(300);
    const { proxy } = started;
    expect((await via(proxy, staff, "ldap-alice:alice pw")).stdout).toBe("staff only");
    expect((await via(proxy, staff, "ldap-bob:bob pw")).code).not.toBe(0);
    // A user with a password but no directory entry: groups unknown, so not let in.
    expect((await via(proxy, staff, "not-in-ldap:nobody pw")).code).not.toBe(0);
    const records = await eventually("three records", () => {
      const all = started.records();
      return all.length >= 3 ? all : undefined;
    });
    const byUser = new Map(records.map((r) => [r.user, r]));
    expect(byUser.get("ldap-alice")).toMatchObject({ status: "closed", decision: "allow" });
    expect(byUser.get("ldap-bob")).toMatchObject({ closeReason: "acl_blocked" });
    expect(byUser.get("not-in-ldap")).toMatchObject({
      closeReason: "auth_error:groups_unavailable",
    });
    // Only the relay's lookup loaded libnss_ldap: the machine itself does not know the user.
    expect((await run("id", ["ldap-alice"])).code).not.toBe(0);
  });

  it("a group added in LDAP decides once the cached groups expire", async () => {
    await using started = await startLdapRelay(1);
    await using cached = await startLdapRelay(300);
    const { proxy } = started;
    expect((await via(proxy, vpn, "ldap-alice:alice pw")).code).not.toBe(0);
    expect((await via(cached.proxy, vpn, "ldap-alice:alice pw")).code).not.toBe(0);
    ldap.addGroup({ cn: "VPN Users", gidNumber: 30_400, members: ["ldap-alice"] });
    // Within its TTL a relay keeps the groups it read: the new one does not count there yet.
    expect((await via(cached.proxy, vpn, "ldap-alice:alice pw")).code).not.toBe(0);
    const through = await eventually(
      "the new group to reach the relay",
      async () => {
        const result = await via(proxy, vpn, "ldap-alice:alice pw");
        return result.code === 0 ? result : undefined;
      },
      15_000,
    );
    expect(through.stdout).toBe("vpn users only");
    // bob is not a member: the new group lets only its members in.
    expect((await via(proxy, vpn, "ldap-bob:bob pw")).code).not.toBe(0);
  });
});

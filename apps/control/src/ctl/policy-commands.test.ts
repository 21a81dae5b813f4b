import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "../test-support/control";
import { ctlFor, runCtl } from "../test-support/ctl";

let control: TestControl;
let ctl: ReturnType<typeof ctlFor>;

beforeAll(async () => {
  control = await startTestControl();
  ctl = ctlFor(control);
});
afterAll(() => control?.close());

const json = <T>(result: { code: number | null; stdout: string; stderr: string }): T => {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
};

describe("edgesocksctl users, groups, rules and acl test", () => {
  it("creates, lists, disables, enables, re-passwords and deletes users", async () => {
    expect(
      (await ctl("groups", "add", "developers", "--max-connections-per-user", "7")).stdout,
    ).toMatch(/^group developers created \(snapshot v\d+\)\n$/);
    const [alice, bob] = await Promise.all([
      ctl("users", "add", "alice", "--password", "pw1", "--group", "developers", "--json"),
      ctl("users", "add", "bob", "--max-connections", "3", "--disabled"),
    ]);
    expect(json<{ user: { username: string } }>(alice).user.username).toBe("alice");
    expect(bob.stdout).toContain("user bob created");

    const [listed, human] = await Promise.all([
      ctl("users", "list", "--json"),
      ctl("users", "list"),
    ]);
    const users =
      json<{ username: string; enabled: boolean; groups: string[]; hasPassword: boolean }[]>(
        listed,
      );
    expect(users.find((u) => u.username === "alice")).toMatchObject({
      enabled: true,
      groups: ["developers"],
      hasPassword: true,
    });
    expect(users.find((u) => u.username === "bob")).toMatchObject({
      enabled: false,
      hasPassword: false,
    });
    const table = human.stdout.split("\n");
    expect(table[0]).toMatch(/^USERNAME\s+ENABLED\s+PASSWORD\s+GROUPS\s+MAX_CONN$/);
    expect(table.find((l) => l.startsWith("alice"))).toMatch(
      /^alice\s+yes\s+set\s+developers\s+-$/,
    );

    // Policy edits serialize on the control plane; concurrent ones each get their own version.
    const [disabled, enabled, passwd] = await Promise.all([
      ctl("users", "disable", "alice"),
      ctl("users", "enable", "bob"),
      runCtl(
        [
          "--url",
          control.app.server.url,
          "--token",
          control.adminToken,
          "users",
          "passwd",
          "bob",
          "--password-stdin",
        ],
        {
          stdin: "s3cret\n",
        },
      ),
    ]);
    expect(disabled.stdout).toMatch(/^user alice disabled/);
    expect(enabled.stdout).toMatch(/^user bob enabled/);
    expect(passwd.stdout).toBe("password of bob changed\n");
    const after = json<{ username: string; enabled: boolean; hasPassword: boolean }[]>(
      await ctl("users", "list", "--json"),
    );
    expect(after.map((u) => [u.username, u.enabled, u.hasPassword])).toEqual(
      expect.arrayContaining([
        ["alice", false, true],
        ["bob", true, true],
      ]),
    );
    expect((await ctl("users", "passwd", "bob", "--clear")).stdout).toBe(
      "password of bob removed\n",
    );
    expect((await ctl("users", "delete", "bob", "--json")).stdout).toMatch(/"version": \d+/);
    const left = json<{ username: string }[]>(await ctl("users", "list", "--json"));
    expect(left.map((u) => u.username)).not.toContain("bob");
  });

  it("adds, lists and deletes rules, and explains decisions", async () => {
    const [block, generated] = await Promise.all([
      ctl(
        "rules",
        "add",
        "--owner",
        "group:developers",
        "--action",
        "block",
        "--dest",
        "*.blocked.example",
        "--dest",
        "198.51.100.0/24",
        "--port",
        "443,8443",
        "--proto",
        "tcp",
        "--priority",
        "10",
        "--description",
        "no blocked",
        "--id",
        "no-blocked",
        "--json",
      ),
      ctl("rules", "add", "--owner", "user:alice", "--action", "allow", "--dest", "*"),
    ]);
    const created = json<{ version: number; rule: { id: string; protocols: string[] } }>(block);
    expect(created.rule).toMatchObject({ id: "no-blocked", protocols: ["tcp"] });
    expect(generated.stdout).toMatch(/^rule r-[0-9a-f]{8} created/);

    const [mineJson, allHuman] = await Promise.all([
      ctl("rules", "list", "--owner", "group:developers", "--json"),
      ctl("rules", "list"),
    ]);
    const mine = json<{ id: string; destinations: string[]; ports: string[] }[]>(mineJson);
    expect(mine).toEqual([
      expect.objectContaining({
        id: "no-blocked",
        destinations: ["*.blocked.example", "198.51.100.0/24"],
        ports: ["443", "8443"],
      }),
    ]);
    expect(allHuman.stdout).toMatch(
      /no-blocked\s+group:developers\s+block\s+10\s+\*\.blocked\.example,198\.51\.100\.0\/24\s+443,8443\s+tcp\s+no blocked/,
    );

    const [blocked, human, byAddress, allowed] = await Promise.all([
      ctl(
        "acl",
        "test",
        "--user",
        "alice",
        "--dest",
        "api.blocked.example",
        "--port",
        "443",
        "--json",
      ),
      ctl("acl", "test", "--user", "alice", "--dest", "api.blocked.example", "--port", "443"),
      ctl(
        "acl",
        "test",
        "--user",
        "alice",
        "--dest",
        "db.example",
        "--address",
        "198.51.100.9",
        "--port",
        "8443",
      ),
      ctl("acl", "test", "--user", "alice", "--dest", "example.com", "--port", "80"),
    ]);
    expect(json<{ decision: unknown }>(blocked).decision).toMatchObject({
      action: "block",
      ruleId: "no-blocked",
    });
    expect(human.stdout).toMatch(
      /^BLOCK {2}rule no-blocked "no blocked" \(group developers\) {2}\[snapshot v\d+\]\n/,
    );
    expect(human.stdout).toMatch(/yes\s+no-blocked\s+group:developers\s+block/);
    expect(byAddress.stdout).toMatch(/^BLOCK/);
    expect(allowed.stdout).toMatch(/^ALLOW/);

    expect((await ctl("rules", "delete", "no-blocked")).stdout).toMatch(/^rule no-blocked deleted/);
    const missing = await ctl("rules", "delete", "no-blocked");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'edgesocksctl: rule "no-blocked" does not exist (API_E_NOT_FOUND)\n',
    );
  });

  it("lists and deletes groups (--force with members)", async () => {
    await ctl("groups", "add", "contractors");
    await ctl("users", "add", "carol", "--group", "contractors");
    const [listed, human, refused] = await Promise.all([
      ctl("groups", "list", "--json"),
      ctl("groups", "list"),
      ctl("groups", "delete", "contractors"),
    ]);
    const groups =
      json<{ name: string; members: string[]; maxConnectionsPerUser: number | null }[]>(listed);
    expect(groups.find((g) => g.name === "contractors")?.members).toEqual(["carol"]);
    expect(groups.find((g) => g.name === "developers")?.maxConnectionsPerUser).toBe(7);
    expect(human.stdout).toMatch(/contractors\s+-\s+carol/);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect((await ctl("groups", "delete", "contractors", "--force")).code).toBe(0);
    const left = json<{ name: string }[]>(await ctl("groups", "list", "--json"));
    expect(left.map((g) => g.name)).toEqual(["developers"]);
  });

  it("lists, diffs and rolls back snapshots", async () => {
    const [pageJson, pageHuman] = await Promise.all([
      ctl("snapshots", "list", "--limit", "3", "--json"),
      ctl("snapshots", "list", "--limit", "2"),
    ]);
    const page = json<{ items: { version: number; summary: string }[] }>(pageJson);
    expect(page.items).toHaveLength(3);
    const newest = page.items[0]!.version;
    expect(pageHuman.stdout).toMatch(
      new RegExp(
        `^VERSION\\s+CREATED\\s+BY\\s+SUMMARY\\n${newest}\\s[\\s\\S]*\\(more: --before ${newest - 1}\\)\\n$`,
      ),
    );
    const [diffJson, diffHuman] = await Promise.all([
      ctl("snapshots", "diff", "1", String(newest), "--json"),
      ctl("snapshots", "diff", "1", String(newest)),
    ]);
    const diff = json<{ from: number; to: number; users: { added: { username: string }[] } }>(
      diffJson,
    );
    expect(diff.users.added.map((u) => u.username)).toContain("alice");
    const human = diffHuman.stdout;
    expect(human).toContain(`snapshot v1 → v${newest}`);
    expect(human).toMatch(/^\+ user alice$/m);
    expect(human).not.toContain("argon2id");

    const rollback = await ctl("snapshots", "rollback", "1");
    expect(rollback.stdout).toBe(`rolled back to the content of v1: published as v${newest + 1}\n`);
    const users = json<{ username: string }[]>(await ctl("users", "list", "--json"));
    expect(users.map((u) => u.username)).toEqual(["anonymous"]);
  });
});

describe("edgesocksctl rules with sources and a time window", () => {
  it("adds, lists and tests a rule limited to one client and office hours", async () => {
    await ctl("users", "add", "gina");
    await ctl("settings", "acl", "--default-policy", "block");
    const added = await ctl(
      ...["rules", "add", "--id", "gina-office", "--owner", "user:gina", "--action", "allow"],
      ...["--dest", "*", "--source", "127.0.0.2,country:DE", "--days", "mon-fri"],
      ...["--times", "09:00-17:00", "--timezone", "Europe/Berlin", "--close-at-window-end"],
    );
    expect(added.stderr).toBe("");
    expect(added.stdout).toMatch(/^rule gina-office created/);
    const [listed, human] = await Promise.all([
      ctl("rules", "list", "--owner", "user:gina", "--json"),
      ctl("rules", "list", "--owner", "user:gina"),
    ]);
    expect(json<unknown[]>(listed)).toEqual([
      expect.objectContaining({
        sources: ["127.0.0.2", "country:DE"],
        schedule: { days: ["mon-fri"], times: ["09:00-17:00"], timezone: "Europe/Berlin" },
        closeAtWindowEnd: true,
      }),
    ]);
    expect(human.stdout).toContain("mon-fri 09:00-17:00 Europe/Berlin, closes");

    const test = (client: string, at: string) =>
      ctl(
        ...["acl", "test", "--user", "gina", "--dest", "127.0.0.1", "--port", "80"],
        ...["--client", client, "--at", at],
      );
    // A Wednesday: 10:00 and 18:00 in Berlin.
    const [inside, otherClient, evening] = await Promise.all([
      test("127.0.0.2", "2030-01-02T09:00:00Z"),
      test("127.0.0.3", "2030-01-02T09:00:00Z"),
      test("127.0.0.2", "2030-01-02T17:00:00Z"),
    ]);
    expect(inside.stdout).toMatch(/^ALLOW {2}rule gina-office .*at 2030-01-02T09:00:00\.000Z\]\n/);
    expect(otherClient.stdout).toMatch(/^BLOCK {2}default policy block/);
    expect(evening.stdout).toMatch(/^BLOCK {2}default policy block/);
    const byCountry = await ctl(
      ...["acl", "test", "--user", "gina", "--dest", "127.0.0.1", "--port", "80"],
      ...["--client", "127.0.0.9", "--client-country", "DE", "--at", "2030-01-02T09:00:00Z"],
    );
    expect(byCountry.stdout).toMatch(/^ALLOW/);

    const [noWindow, badCountry] = await Promise.all([
      ctl(
        ...["rules", "add", "--owner", "user:gina", "--action", "allow", "--dest", "*"],
        "--close-at-window-end",
      ),
      ctl(
        ...["rules", "add", "--owner", "user:gina", "--action", "allow", "--dest", "*"],
        ...["--source", "country:XX"],
      ),
    ]);
    expect(noWindow.code).toBe(2);
    expect(noWindow.stderr).toContain("--close-at-window-end needs a window");
    expect(badCountry.code).toBe(1);
    expect(badCountry.stderr).toContain("XX is not an ISO 3166-1 alpha-2 country code");
  });
});

import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControl, type TestControl } from "../test-support/control";
import { runCtl } from "../test-support/ctl";
import { COMMANDS } from "./commands/index";

let control: TestControl;

beforeAll(async () => {
  control = await startTestControl();
});
afterAll(() => control?.close());

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("edgesocksctl help", () => {
  it("lists every command in --help, each group's in GROUP --help, and every flag in COMMAND --help", async () => {
    const [global, group, command, viaHelp, version] = await Promise.all([
      runCtl(["--help"]),
      runCtl(["users", "--help"]),
      runCtl(["rules", "add", "--help"]),
      runCtl(["help", "sessions", "list"]),
      runCtl(["--version"]),
    ]);
    expect(global.code).toBe(0);
    for (const c of COMMANDS) expect(global.stdout).toContain(`  ${c.name}`);
    for (const text of ["EDGESOCKS_URL", "EDGESOCKS_TOKEN", "--json", "Exit codes"]) {
      expect(global.stdout).toContain(text);
    }
    expect(group.stdout).toMatch(/users passwd NAME\s+set or clear a user's password/);
    expect(group.stdout).not.toContain("rules add");
    for (const flag of Object.keys(COMMANDS.find((c) => c.name === "rules add")!.flags!)) {
      expect(command.stdout).toContain(`--${flag}`);
    }
    expect(command.stdout).toContain(
      "Examples:\n  edgesocksctl rules add --owner group:developers",
    );
    expect(viaHelp.stdout).toMatch(/^Usage: edgesocksctl sessions list \[FLAGS\] \[--json\]/);
    expect(version.stdout).toMatch(/^edgesocksctl \d+\.\d+\.\d+\n$/);
  });

  it("documents every flag of every command (no flag without help text)", () => {
    for (const c of COMMANDS) {
      expect(c.summary, c.name).toMatch(/^[a-z]/);
      for (const [name, flag] of Object.entries(c.flags ?? {})) {
        expect(flag.help.length, `${c.name} --${name}`).toBeGreaterThan(5);
      }
    }
  });
});

describe("edgesocksctl errors: one line on stderr, exit code 2 for usage, 1 for failures", () => {
  it("reports usage errors with exit code 2 without calling the API", async () => {
    const results = await Promise.all([
      runCtl(["frobnicate"]),
      runCtl(["users"]),
      runCtl(["users", "rename", "a"]),
      runCtl(["users", "add", "--token", "esa_x"]),
      runCtl(["users", "add", "a", "b", "--token", "esa_x"]),
      runCtl(["users", "list", "--colour", "--token", "esa_x"]),
      runCtl([
        "rules",
        "add",
        "--owner",
        "nobody",
        "--action",
        "allow",
        "--dest",
        "*",
        "--token",
        "esa_x",
      ]),
      runCtl(["users", "list"]),
      runCtl(["--url", "ftp://example.com", "--token", "esa_x", "users", "list"]),
    ]);
    expect(results.map((r) => r.stderr)).toEqual([
      'edgesocksctl: unknown command "frobnicate" (see edgesocksctl --help)\n',
      "edgesocksctl: users: missing command: add, list, disable, enable, passwd, delete (see edgesocksctl users --help)\n",
      'edgesocksctl: users: unknown command "rename": add, list, disable, enable, passwd, delete (see edgesocksctl users --help)\n',
      "edgesocksctl: missing NAME\n",
      'edgesocksctl: unexpected argument "b"\n',
      "edgesocksctl: Unknown option '--colour'\n",
      'edgesocksctl: --owner: expected user:NAME or group:NAME, got "nobody"\n',
      "edgesocksctl: no API token: pass --token or set EDGESOCKS_TOKEN\n",
      'edgesocksctl: --url: expected http:// or https://, got "ftp://example.com"\n',
    ]);
    for (const r of results) expect([r.code, r.stdout]).toEqual([2, ""]);
  });

  it("reports API errors with their code, and an unreachable control plane plainly", async () => {
    const port = await closedPort();
    const url = control.app.server.url;
    const [denied, invalid, policy, refused] = await Promise.all([
      runCtl(["--url", url, "--token", "esa_wrong", "users", "list"]),
      runCtl([
        "--url",
        url,
        "--token",
        control.adminToken,
        "nodes",
        "enroll",
        "bad name!",
        "--region",
        "eu",
      ]),
      runCtl([
        "--url",
        url,
        "--token",
        control.adminToken,
        "rules",
        "add",
        "--owner",
        "user:anonymous",
        "--action",
        "allow",
        "--dest",
        "10.0.0.0/33",
      ]),
      runCtl(["--url", `http://127.0.0.1:${port}`, "--token", "esa_x", "users", "list"]),
    ]);
    expect(denied.stderr).toBe(
      "edgesocksctl: an admin API token is required (Authorization: Bearer esa_…) (API_E_UNAUTHORIZED)\n",
    );
    expect(invalid.stderr).toMatch(
      /^edgesocksctl: letters, digits.* \(at name\) \(API_E_BAD_INPUT\)\n$/,
    );
    expect(policy.stderr).toMatch(/^edgesocksctl: .*10\.0\.0\.0\/33.*\(API_E_POLICY_INVALID\)\n$/);
    expect(refused.stderr).toBe(
      `edgesocksctl: cannot reach the control plane at http://127.0.0.1:${port}: connection refused\n`,
    );
    for (const r of [denied, invalid, policy, refused]) expect([r.code, r.stdout]).toEqual([1, ""]);
  });

  it("takes the URL and token from EDGESOCKS_URL / EDGESOCKS_TOKEN, flags first", async () => {
    const env = {
      EDGESOCKS_URL: `${control.app.server.url}/trpc/`,
      EDGESOCKS_TOKEN: control.adminToken,
    };
    const [fromEnv, flagWins] = await Promise.all([
      runCtl(["users", "list", "--json"], { env }),
      runCtl(["--token=esa_wrong", "users", "list"], { env }),
    ]);
    expect(fromEnv.code).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toEqual([
      expect.objectContaining({ username: "anonymous" }),
    ]);
    expect(flagWins.stderr).toContain("(API_E_UNAUTHORIZED)");
  });
});

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAclToml } from "@edgesocks/policy";
import { describe, expect, it } from "vitest";
import { EXAMPLE_CONFIG } from "./config/example";
import { parseConfigText } from "./config/load";
import { run } from "./test-support/run";

const BIN = new URL("../bin/edgesocks-relay.mjs", import.meta.url).pathname;
// CI runs as root, and the relay refuses root without --user or --allow-root.
const ROOT_ARGS = process.getuid?.() === 0 ? ["--allow-root"] : [];
const relayCli = (args: string[]) => run(process.execPath, [BIN, ...args, ...ROOT_ARGS]);

describe("edgesocks-relay command line", () => {
  it("--help documents every flag and exits 0", async () => {
    const result = await relayCli(["--help"]);
    expect(result.code).toBe(0);
    for (const flag of [
      "--config",
      "--generate-config",
      "--control-url",
      "--node-token",
      "--node-token-file",
      "--region",
      "--name",
      "--state-dir",
      "--bind",
      "--port",
      "--ops-bind",
      "--log-level",
      "--log-format",
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it.each([
    [["--bogus"], "Unknown option '--bogus'"],
    [["--config", "x.toml", "--port", "70000"], "--port: expected a port 0-65535"],
    [["--config", "x.toml", "--log-format", "xml"], "--log-format: expected pretty or json"],
    [[], "either --config FILE"],
    [["--control-url", "ws://127.0.0.1:1/trpc"], "a node token is required with --control-url"],
    [
      ["--control-url", "ws://127.0.0.1:1/trpc", "--node-token", "a", "--node-token-file", "f"],
      "--node-token and --node-token-file: give only one",
    ],
    [
      ["--control-url", "ws://127.0.0.1:1/trpc", "--node-token-file", "/nonexistent/token"],
      "--node-token-file: cannot read /nonexistent/token",
    ],
  ])("rejects %j with one line and exit code 2", async (args, message) => {
    const result = await relayCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain(message);
  });

  it("names the bad key of a config file and exits 2 without starting", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-cli-"));
    const cases: [string, string][] = [
      ["[server]\nmax_connections = 0\n", "server.max_connections:"],
      ['[auth]\nsocks_method = "pam"\n', '(PAM methods are "pam.address" and "pam.username")'],
      ["[server\n", "not valid TOML"],
      ["[acl]\nenabled = true\n", "acl.config_file: required"],
      ['[acl]\nenabled = true\nconfig_file = "missing.toml"\n', "missing.toml: cannot read"],
      // A typo must not leave the default (no authentication) in force.
      [
        '[auth]\nsocks_methd = "userpass"\n',
        'auth.socks_methd: unknown key "socks_methd" (did you mean "socks_method"?)',
      ],
      [
        '[auth]\nclient_method = "userpass"\n',
        'auth.client_method: expected "none" or "pam.address"',
      ],
      [
        '[auth.pam]\nusername_service = "-x"\n',
        "auth.pam.username_service: expected a PAM service",
      ],
      ['[ops]\nbind = "nonsense"\n', 'ops.bind: expected "IP:PORT"'],
      ['[ops]\nbind = "127.0.0.1:99999"\n', 'ops.bind: expected "IP:PORT"'],
      [
        '[server]\nbind_address = "not an address"\n',
        "server.bind_address: expected an IP address",
      ],
    ];
    for (const [text, message] of cases) {
      const path = join(dir, "relay.toml");
      writeFileSync(path, text);
      const result = await relayCli(["--config", path, "--port", "0"]);
      expect({ text, code: result.code }).toEqual({ text, code: 2 });
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("validates flags as the keys they override, naming the flag, before anything is bound", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-cli-"));
    const path = join(dir, "relay.toml");
    writeFileSync(path, "[server]\nbind_port = 0\n");
    const cases: [string[], string][] = [
      [["--bind", "localhost-ish"], "server.bind_address: expected an IP address"],
      [["--ops-bind", "nonsense:9100"], 'ops.bind: expected "IP:PORT"'],
    ];
    for (const [flags, message] of cases) {
      const result = await relayCli(["--config", path, ...flags]);
      expect({ flags, code: result.code }).toEqual({ flags, code: 2 });
      expect(result.stderr.trim().split("\n")).toEqual([
        expect.stringContaining(`${message}`) as unknown as string,
      ]);
      expect(result.stderr).toContain(`(from ${flags[0]})`);
      expect(result.stdout).not.toContain("relay listening");
    }
  });

  it("hands out a frozen configuration: nothing can change it after validation", () => {
    const { config } = parseConfigText("[server]\nbind_port = 1081\n", "relay.toml", [
      { key: ["server", "bind_port"], value: 2000, flag: "--port" },
    ]);
    expect(config.server.bind_port).toBe(2000);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.auth.users)).toBe(true);
    expect(() => {
      (config.server as { bind_port: number }).bind_port = 1;
    }).toThrow(TypeError);
  });

  it("--generate-config writes a commented example that loads as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-cli-"));
    const path = join(dir, "relay.toml");
    const result = await relayCli(["--generate-config", path]);
    expect(result.code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(EXAMPLE_CONFIG);
    expect(parseConfigText(EXAMPLE_CONFIG).warnings).toEqual([]);
    expect((await relayCli(["--generate-config", path])).code).toBe(2);
  });

  it("the example files in examples/ load without a warning", () => {
    const examples = new URL("../../../examples/", import.meta.url).pathname;
    expect(parseConfigText(readFileSync(join(examples, "relay.toml"), "utf8")).warnings).toEqual(
      [],
    );
    expect(parseAclToml(readFileSync(join(examples, "acl.toml"), "utf8"))).toMatchObject({
      ok: true,
      warnings: [],
    });
  });

  it("loads a RustSocks rustsocks.toml, warning once per key on the list of unsupported RustSocks keys", () => {
    const rustsocks = `
[server]
bind_address = "127.0.0.1"
bind_port = 1080
max_connections = 10000

[auth]
client_method = "none"
socks_method = "none"

[logging]
level = "info"
format = "pretty"

[sessions]
enabled = true
storage = "sqlite"

[qos.htb]
refill_interval_ms = 50
`;
    const { config, warnings } = parseConfigText(rustsocks, "rustsocks.toml");
    expect(config.server.bind_port).toBe(1080);
    expect(warnings).toEqual([
      "rustsocks.toml: sessions is a RustSocks key EdgeSocks does not support; ignored",
      "rustsocks.toml: qos.htb.refill_interval_ms is a RustSocks key EdgeSocks does not support; ignored",
    ]);
  });

  it("serves, reports ready, and drains on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-cli-"));
    const path = join(dir, "relay.toml");
    writeFileSync(
      path,
      `[server]\nbind_port = 0\n[ops]\nbind = "127.0.0.1:0"\n[logging]\nformat = "json"\n`,
    );
    const child = spawn(process.execPath, [BIN, "--config", path, ...ROOT_ARGS], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    await expect
      .poll(() => output.includes('"msg":"relay listening"'), { timeout: 10_000 })
      .toBe(true);
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});

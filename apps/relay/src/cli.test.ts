import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
      ["[server]\nbind_port = 70000\n", "server.bind_port:"],
      ['[auth]\nsocks_method = "pam.username"\n', "PAM is not supported"],
      ["[server\n", "not valid TOML"],
      ["[acl]\nenabled = true\n", "acl.config_file: required"],
      ['[acl]\nenabled = true\nconfig_file = "missing.toml"\n', "missing.toml: cannot read"],
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

  it("--generate-config writes a commented example that loads as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-cli-"));
    const path = join(dir, "relay.toml");
    const result = await relayCli(["--generate-config", path]);
    expect(result.code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(EXAMPLE_CONFIG);
    expect(parseConfigText(EXAMPLE_CONFIG).warnings).toEqual([]);
    expect((await relayCli(["--generate-config", path])).code).toBe(2);
  });

  it("loads a RustSocks rustsocks.toml, warning once per unsupported key", () => {
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
`;
    const { config, warnings } = parseConfigText(rustsocks, "rustsocks.toml");
    expect(config.server.bind_port).toBe(1080);
    expect(warnings).toEqual([
      "rustsocks.toml: auth.client_method is not supported by EdgeSocks and is ignored",
      "rustsocks.toml: sessions is not supported by EdgeSocks and is ignored",
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

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../src/test-support/run";

/*
 * A host whose IPv6 route silently drops packets (a permanent neighbour entry
 * for a MAC nobody has: SYNs leave, nothing ever answers) and whose IPv4 works,
 * in a network namespace of its own. Needs root, as the test run has.
 * Run under `flock /tmp/edgesocks-e2e.lock` like the e2e suites.
 */
const NS = `es-he-${process.pid}`;
const BLACKHOLED = ["2001:db8:1::99", "2001:db8:1::98"];
const BIN = new URL("../bin/edgesocks-relay.mjs", import.meta.url).pathname;
const RELAY_PORT = 1080;
const TARGET_PORT = 8080;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

function createNamespace(): Disposable {
  const remove = () => {
    try {
      ip("netns", "del", NS);
    } catch {
      // Not there.
    }
  };
  remove();
  ip("netns", "add", NS);
  try {
    ip("-n", NS, "link", "set", "lo", "up");
    ip("-n", NS, "link", "add", "hev0", "type", "veth", "peer", "name", "hev1");
    ip("-n", NS, "link", "set", "hev0", "up");
    ip("-n", NS, "link", "set", "hev1", "up");
    ip("-n", NS, "-6", "addr", "add", "2001:db8:1::1/64", "dev", "hev0", "nodad");
    const mac = "02:00:00:00:00:99";
    for (const address of BLACKHOLED) {
      ip("-n", NS, "-6", "neigh", "add", address, "lladdr", mac, "dev", "hev0", "nud", "permanent");
    }
  } catch (error) {
    remove();
    throw error;
  }
  return { [Symbol.dispose]: remove };
}

/** Starts `command` inside the namespace; resolves once its output contains `ready`. */
async function startInNamespace(
  command: string[],
  ready: string,
): Promise<AsyncDisposable & { output: () => string }> {
  const child: ChildProcess = spawn("ip", ["netns", "exec", NS, ...command], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const capture = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  await expect
    .poll(() => output.includes(ready) || child.exitCode !== null, { timeout: 15_000 })
    .toBe(true);
  if (!output.includes(ready)) {
    await stop();
    throw new Error(`${command.join(" ")} did not start: ${output}`);
  }
  return { output: () => output, [Symbol.asyncDispose]: stop };
}

describe("Happy Eyeballs to a name with a blackholed AAAA and a working A", () => {
  it("falls back to the IPv4 address within the connect budget", async () => {
    using _ns = createNamespace();
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-he-"));
    try {
      const config = join(dir, "relay.toml");
      writeFileSync(
        config,
        [
          "[server]",
          `bind_address = "127.0.0.1"`,
          `bind_port = ${RELAY_PORT}`,
          "connect_timeout_ms = 3000",
          "[dns.hosts]",
          // AAAA records first, as getaddrinfo() orders a dual-stack host's answers.
          // Tried one after the other, the first would spend the whole budget.
          `"dual.test" = ["${BLACKHOLED[0]}", "${BLACKHOLED[1]}", "127.0.0.1"]`,
          "[logging]",
          `format = "json"`,
        ].join("\n"),
      );
      await using _target = await startInNamespace(
        [
          process.execPath,
          "-e",
          `require("node:http").createServer((q, r) => r.end("answered over IPv4"))` +
            `.listen(${TARGET_PORT}, "127.0.0.1", () => console.log("target ready"))`,
        ],
        "target ready",
      );
      await using _relay = await startInNamespace(
        [process.execPath, BIN, "--config", config, "--allow-root"],
        '"msg":"relay listening"',
      );
      const inNamespace = (args: string[]) => run("ip", ["netns", "exec", NS, "curl", ...args]);

      // The IPv6 address really is a blackhole: a direct connect hangs until curl gives up.
      const direct = await inNamespace([
        "-sS",
        "--connect-timeout",
        "1",
        `http://[${BLACKHOLED[0]}]:${TARGET_PORT}/`,
      ]);
      expect(direct.code).toBe(28);

      const proxied = await inNamespace([
        "-sS",
        "--max-time",
        "10",
        "--socks5-hostname",
        `127.0.0.1:${RELAY_PORT}`,
        `http://dual.test:${TARGET_PORT}/`,
      ]);
      expect({ code: proxied.code, stdout: proxied.stdout, stderr: proxied.stderr }).toEqual({
        code: 0,
        stdout: "answered over IPv4",
        stderr: "",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

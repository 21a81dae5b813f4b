// deploy/bin/edgesocks-relay-launch starts the real relay with its node token out of argv: from
// EDGESOCKS_NODE_TOKEN in the environment or EDGESOCKS_NODE_TOKEN_FILE, never --node-token.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcess, waitFor } from "./support/processes";

const ROOT = resolve(import.meta.dirname, "..");
const TOKEN = `ese_${"k".repeat(40)}`;

let dir: string;
let launcher: string;

beforeAll(() => {
  // A release as the deploy script lays it out: bin/, node/bin/node and apps/ of this checkout.
  dir = mkdtempSync(join(tmpdir(), "edgesocks-launcher-"));
  mkdirSync(join(dir, "release", "bin"), { recursive: true });
  mkdirSync(join(dir, "release", "node", "bin"), { recursive: true });
  launcher = join(dir, "release", "bin", "edgesocks-relay-launch");
  copyFileSync(join(ROOT, "deploy", "bin", "edgesocks-relay-launch"), launcher);
  symlinkSync(process.execPath, join(dir, "release", "node", "bin", "node"));
  symlinkSync(join(ROOT, "apps"), join(dir, "release", "apps"));
  writeFileSync(join(dir, "token"), `${TOKEN}\n`, { mode: 0o600 });
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const baseEnv = (name: string) => ({
  // Nothing listens there: the relay keeps trying to exchange its token, which proves it has one.
  EDGESOCKS_CONTROL_URL: "ws://127.0.0.1:9/trpc",
  EDGESOCKS_REGION: "test",
  EDGESOCKS_NAME: name,
  EDGESOCKS_STATE_DIR: join(dir, name),
  EDGESOCKS_BIND: "127.0.0.1",
  EDGESOCKS_PORT: "0",
  EDGESOCKS_OPS_BIND: "127.0.0.1:0",
  EDGESOCKS_EXTRA_ARGS: process.getuid?.() === 0 ? "--allow-root" : "",
  EDGESOCKS_NODE_TOKEN: "",
  EDGESOCKS_NODE_TOKEN_FILE: "",
});

describe("edgesocks-relay-launch", () => {
  it.each([
    ["environment", { EDGESOCKS_NODE_TOKEN: TOKEN }],
    ["file", { EDGESOCKS_NODE_TOKEN_FILE: "token" }],
  ])(
    "hands the relay its token from the %s, not on its command line",
    async (kind, env) => {
      const name = `launch-${kind}`;
      const tokenEnv =
        "EDGESOCKS_NODE_TOKEN_FILE" in env
          ? { EDGESOCKS_NODE_TOKEN_FILE: join(dir, "token") }
          : env;
      await using relay = startProcess({
        name: `relay-launcher-${kind}`,
        command: launcher,
        args: [],
        env: { ...baseEnv(name), ...tokenEnv },
      });
      await waitFor(
        "the relay to try its token",
        () => {
          if (relay.child.exitCode !== null) throw new Error(`exited: ${relay.output()}`);
          return relay.output().includes("node token exchange failed") ? true : undefined;
        },
        30_000,
      );
      // `exec`: the launcher's pid is the relay's.
      const argv = readFileSync(`/proc/${relay.child.pid}/cmdline`, "utf8").split("\0");
      expect(argv.some((a) => a.endsWith("edgesocks-relay.mjs"))).toBe(true);
      expect(argv.join(" ")).not.toContain(TOKEN);
      expect(argv).not.toContain("--node-token");
    },
    40_000,
  );

  it("refuses to start without a token, naming both variables", async () => {
    const relay = startProcess({
      name: "relay-launcher-none",
      command: launcher,
      args: [],
      env: baseEnv("launch-none"),
    });
    expect(await relay.exited).not.toBe(0);
    expect(relay.output()).toContain("neither EDGESOCKS_NODE_TOKEN nor EDGESOCKS_NODE_TOKEN_FILE");
  });
});

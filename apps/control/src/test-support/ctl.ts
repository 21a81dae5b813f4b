import { spawn } from "node:child_process";
import type { HeartbeatInput } from "@edgesocks/api/wire";
import type { TestControl } from "./control";

const BIN = new URL("../../bin/edgesocksctl.mjs", import.meta.url).pathname;

export interface CtlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `edgesocksctl` binary as a child process. EDGESOCKS_URL / EDGESOCKS_TOKEN come
 * only from `env` (the test's own environment never leaks in); `stdin` is piped in when given.
 */
export function runCtl(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<CtlResult> {
  const { EDGESOCKS_URL: _u, EDGESOCKS_TOKEN: _t, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...inherited, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 20_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

/** runCtl with `--url` and the admin token of `control`. */
export function ctlFor(control: TestControl) {
  return (...args: string[]) =>
    runCtl(["--url", control.app.server.url, "--token", control.adminToken, ...args]);
}

/** A heartbeat as a relay sends it, reporting `publicAddress`. */
export function heartbeat(publicAddress: string | null): HeartbeatInput {
  return {
    softwareVersion: "test",
    publicAddress,
    appliedVersion: null,
    epoch: null,
    counters: {
      connectionsActive: 0,
      sessionsActive: 0,
      sessionsTotal: 0,
      bytesUp: 0,
      bytesDown: 0,
      rejectedTotal: 0,
      spoolBacklogBytes: 0,
      quarantinedRecords: 0,
    },
    activeSessions: [],
    activeSessionsTruncated: false,
  };
}

/**
 * Enrolls a relay node that reports `publicAddress` on exchange and in one heartbeat, so it is
 * healthy (online with a public address) for nodes.list, nearest and /proxy.pac. Returns its
 * node token.
 */
export async function registerRelay(
  control: TestControl,
  options: { name: string; region: string; publicAddress: string; heartbeat?: boolean },
): Promise<string> {
  const { enrollmentToken } = await control.admin.nodes.enroll.mutate({
    name: options.name,
    region: options.region,
    // Pinned, as an operator would for loopback or test addresses.
    publicAddresses: [options.publicAddress],
  });
  const { nodeToken } = await control.http(null).nodes.exchange.mutate({
    enrollmentToken,
    softwareVersion: "test",
    publicAddress: options.publicAddress,
  });
  if (options.heartbeat !== false) {
    await control.http(nodeToken).nodes.heartbeat.mutate(heartbeat(options.publicAddress));
  }
  return nodeToken;
}

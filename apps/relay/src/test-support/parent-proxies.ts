import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./relay-process";

/** A real upstream proxy from Debian, on 127.0.0.1:`port`, stopped on dispose. */
export interface ParentProxy extends AsyncDisposable {
  port: number;
  output(): string;
}

// Debian puts danted in /usr/sbin, which a non-login PATH may lack.
const DANTED = existsSync("/usr/sbin/danted") ? "/usr/sbin/danted" : "danted";

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket: Socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startParent(
  command: string,
  args: (port: number, dir: string) => string[],
  files: (port: number, dir: string) => Record<string, string> = () => ({}),
): Promise<ParentProxy> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-parent-"));
  // tinyproxy drops to nobody: its config directory must stay readable.
  chmodSync(dir, 0o755);
  const port = await freePort();
  for (const [name, text] of Object.entries(files(port, dir))) writeFileSync(join(dir, name), text);
  const child = spawn(command, args(port, dir), { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk;
  });
  const output = () => log;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, output, [Symbol.asyncDispose]: stop };
}

/**
 * microsocks (SOCKS5), with RFC 1929 credentials when given; `bindAddress`: the address its
 * outgoing connections come from (so the next hop can tell it apart).
 */
export function startMicrosocks(
  options: { credentials?: { username: string; password: string }; bindAddress?: string } = {},
): Promise<ParentProxy> {
  const { credentials, bindAddress } = options;
  return startParent("microsocks", (port) => [
    ...["-i", "127.0.0.1", "-p", String(port)],
    ...(credentials ? ["-u", credentials.username, "-P", credentials.password] : []),
    ...(bindAddress ? ["-b", bindAddress] : []),
  ]);
}

/**
 * Dante's danted (SOCKS5) with a config of its own. Dante binds its `external:` address
 * before it connects out, so that is 127.0.0.2, which loopback routes like any 127/8 address.
 * It allows CONNECT, BIND (listening on 127.0.0.2) and UDP ASSOCIATE from 127.0.0.0/8;
 * `udpIdleSecs`: it ends a UDP association (its control connection) idle that long.
 */
export function startDante(options: { udpIdleSecs?: number } = {}): Promise<ParentProxy> {
  return startParent(
    DANTED,
    (_port, dir) => ["-f", join(dir, "danted.conf"), "-p", join(dir, "danted.pid")],
    (port) => ({
      "danted.conf": `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.2
socksmethod: none
clientmethod: none
${options.udpIdleSecs ? `timeout.io.udp: ${options.udpIdleSecs}` : ""}
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect bind udpassociate
  log: connect
}
socks pass {
  from: 0.0.0.0/0 to: 127.0.0.0/8
  command: bindreply udpreply
  log: connect
}
`,
    }),
  );
}

/** tinyproxy (HTTP CONNECT to `connectPorts` only), with Basic credentials when given. */
export function startTinyproxy(options: {
  connectPorts: number[];
  credentials?: { username: string; password: string };
}): Promise<ParentProxy> {
  return startParent(
    "tinyproxy",
    (_port, dir) => ["-d", "-c", join(dir, "tinyproxy.conf")],
    (port) => ({
      "tinyproxy.conf": [
        "User nobody",
        "Group nogroup",
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        "MaxClients 20",
        "Allow 127.0.0.1",
        "LogLevel Connect",
        ...options.connectPorts.map((p) => `ConnectPort ${p}`),
        ...(options.credentials
          ? [`BasicAuth ${options.credentials.username} ${options.credentials.password}`]
          : []),
        "",
      ].join("\n"),
    }),
  );
}

/**
 * HAProxy in TCP mode, taking a PROXY header (`accept-proxy`) and forwarding to 127.0.0.1:
 * `backendPort`. It logs each connection's client as the header named it (`pp-client ADDR:PORT`)
 * and only forwards a client from `allowSource`: what it sees is what the header carried.
 */
export function startHaproxy(options: {
  backendPort: number;
  allowSource: string;
}): Promise<ParentProxy> {
  return startParent(
    "/usr/sbin/haproxy",
    (_port, dir) => ["-db", "-f", join(dir, "haproxy.cfg")],
    (port) => ({
      "haproxy.cfg": `global
  log stdout format raw local0
defaults
  mode tcp
  log global
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend socks
  bind 127.0.0.1:${port} accept-proxy
  log-format "pp-client %ci:%cp"
  tcp-request content reject unless { src ${options.allowSource} }
  default_backend parent
backend parent
  server parent 127.0.0.1:${options.backendPort}
`,
    }),
  );
}

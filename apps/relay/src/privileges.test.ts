import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const BIN = new URL("../bin/edgesocks-relay.mjs", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "edgesocks-priv-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string): string {
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, `[server]\nbind_port = 0\n[logging]\nformat = "json"\n`);
  return path;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = process.env): Started {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  children.push(child);
  let text = "";
  child.stdout?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, output: () => text, exited };
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill("SIGTERM");
  return started.exited;
}

/** `Uid:`/`Gid:` lines of /proc/PID/status: real, effective, saved, filesystem. */
function procIds(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const line = (key: string) =>
    (new RegExp(`^${key}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  return { uid: line("Uid"), gid: line("Gid"), groups: line("Groups") };
}

function socksGreeting(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(Buffer.from([5, 1, 0])));
    socket.setTimeout(5_000, () => socket.destroy(new Error("greeting timed out")));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data);
    });
    socket.once("error", reject);
  });
}

describe.skipIf(!isRoot)("privilege dropping (root only)", () => {
  it("switches to --user/--group after binding and keeps serving", async () => {
    const stateDir = join(dir, "state");
    const relay = start([
      "--config",
      config("drop"),
      "--state-dir",
      stateDir,
      "--user",
      "nobody",
      "--group",
      "nogroup",
    ]);
    await expect.poll(relay.output, { timeout: 15_000 }).toContain('"msg":"dropped privileges"');
    const ids = procIds(relay.child.pid!);
    expect(ids.uid).toEqual([65534, 65534, 65534, 65534]);
    expect(ids.gid).toEqual([65534, 65534, 65534, 65534]);
    expect(ids.groups).toEqual([65534]);
    // The state dir (spool, node token, snapshot) now belongs to the relay's user.
    expect(statSync(stateDir).uid).toBe(65534);
    expect(statSync(join(stateDir, "spool")).uid).toBe(65534);
    const port = Number(/"socks":"[^"]*:(\d+)"/.exec(relay.output())?.[1]);
    expect(await socksGreeting(port)).toEqual(Buffer.from([5, 0]));
    expect(await stop(relay)).toBe(0);
  });

  it("refuses to run as root without --user or --allow-root, with nothing started", async () => {
    const relay = start(["--config", config("refuse")]);
    expect(await relay.exited).toBe(2);
    expect(relay.output()).toContain("refusing to run as root");
    expect(relay.output()).not.toContain("relay listening");
  });

  it("exits 2 naming the flag when the user does not exist", async () => {
    const relay = start(["--config", config("nouser"), "--user", "edgesocks-no-such-user"]);
    expect(await relay.exited).toBe(2);
    expect(relay.output()).toContain("--user edgesocks-no-such-user: no such user");
  });

  it("runs as root with --allow-root, and warns", async () => {
    const relay = start(["--config", config("allow"), "--allow-root"]);
    await expect.poll(relay.output, { timeout: 15_000 }).toContain('"msg":"relay listening"');
    expect(relay.output()).toContain("running as root (--allow-root)");
    expect(procIds(relay.child.pid!).uid[1]).toBe(0);
    expect(await stop(relay)).toBe(0);
  });
});

/**
 * A real notification socket, bound by Debian's python3 (Node has no unix
 * datagram sockets), receiving what the relay sends through systemd-notify.
 */
describe.skipIf(!isRoot)("sd_notify", () => {
  it("sends READY=1 once listening, WATCHDOG=1 at half WatchdogSec, STOPPING=1 on SIGTERM", async () => {
    const socketPath = join(dir, "notify.sock");
    const receiver = spawn(
      "/usr/bin/python3",
      [
        "-u",
        "-c",
        [
          "import socket, sys",
          "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
          "s.bind(sys.argv[1])",
          "print('bound', flush=True)",
          "s.settimeout(20)",
          "while True:",
          "    msg, anc, flags, addr = s.recvmsg(4096, 0)",
          "    print(msg.decode().replace('\\n', '|'), flush=True)",
        ].join("\n"),
        socketPath,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(receiver);
    let received = "";
    receiver.stdout?.on("data", (c: Buffer) => {
      received += c.toString();
    });
    await expect.poll(() => received, { timeout: 5_000 }).toContain("bound");
    const relay = start(["--config", config("notify"), "--allow-root"], {
      ...process.env,
      NOTIFY_SOCKET: socketPath,
      WATCHDOG_USEC: "600000",
    });
    await expect
      .poll(() => received, { timeout: 15_000 })
      .toContain("READY=1|STATUS=serving SOCKS on");
    await expect
      .poll(() => received.split("\n").filter((l) => l === "WATCHDOG=1").length, { timeout: 5_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await stop(relay)).toBe(0);
    expect(received).toContain("STOPPING=1");
    receiver.kill("SIGKILL");
  });
});

// `npm start`'s script (scripts/start-local.ts) as a user runs it: the relay keeps serving while
// the control plane is killed, the control plane comes back by itself, and the sessions made
// meanwhile reach the history exactly once. Also: no token in `ps`, every file 0600.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdminApi,
  adminApi,
  curlThrough,
  startTarget,
  type Target,
} from "./support/admin-stack";
import { freePort } from "./support/ports";
import { type ManagedProcess, startProcess, waitFor } from "./support/processes";

const ROOT = resolve(import.meta.dirname, "..");
const SESSIONS_WHILE_DOWN = 10;

let dir: string;
let target: Target;
let ports: { control: number; relay: number; ops: number };
let stack: ManagedProcess | undefined;

function startStack(name: string): ManagedProcess {
  return startProcess({
    name,
    command: process.execPath,
    args: ["--import", "tsx", join(ROOT, "scripts/start-local.ts")],
    cwd: ROOT,
    env: {
      EDGESOCKS_DATA_DIR: dir,
      EDGESOCKS_CONTROL_PORT: String(ports.control),
      EDGESOCKS_RELAY_PORT: String(ports.relay),
      EDGESOCKS_RELAY_OPS_PORT: String(ports.ops),
      // Long enough that the sessions below surely happen while it is down (checked, too).
      EDGESOCKS_CONTROL_RESTART_DELAY_MS: "4000",
    },
  });
}

/** The pids the stack prints once it is up. */
async function pidsOf(proc: ManagedProcess): Promise<{ control: number; relay: number }> {
  const text = await waitFor(
    "the local stack to come up",
    () => {
      if (proc.child.exitCode !== null) throw new Error(`start-local exited: ${proc.output()}`);
      return proc.output().includes("local stack is up") ? proc.output() : undefined;
    },
    90_000,
    200,
  );
  const control = /admin app\s+\S+\s+\(pid (\d+)\)/.exec(text);
  const relay = /SOCKS relay\s+\S+\s+\(pid (\d+)/.exec(text);
  if (!control || !relay) throw new Error(`no pids in the output: ${text}`);
  return { control: Number(control[1]), relay: Number(relay[1]) };
}

/** The command line `ps` shows for a process. */
const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");

async function sessionIds(api: AdminApi): Promise<string[]> {
  const page = await api.sessions.history.query({ limit: 500 });
  return page.items.map((s) => s.id);
}

async function curlOnce(): Promise<void> {
  const result = await curlThrough({
    proxy: `socks5h://127.0.0.1:${ports.relay}`,
    url: `http://127.0.0.1:${target.port}/data`,
    maxTimeSec: 10,
  }).done;
  expect(result.stdout, result.stderr).toBe("200");
}

function filesUnder(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const full = join(path, entry.name);
    return entry.isDirectory() ? [full, ...filesUnder(full)] : [full];
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgesocks-local-stack-"));
  target = await startTarget();
  ports = { control: await freePort(), relay: await freePort(), ops: await freePort() };
});

afterAll(async () => {
  await stack?.stop(15_000);
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm start (scripts/start-local.ts)", () => {
  it("keeps the relay serving while the control plane is killed, restarts it, and loses or repeats no session", async () => {
    stack = startStack("local-stack-1");
    const pids = await pidsOf(stack);
    const adminToken = readFileSync(join(dir, "admin-token"), "utf8").trim();
    const api = adminApi(`http://127.0.0.1:${ports.control}`, adminToken);

    // No token of any kind on the command lines `ps` shows.
    for (const pid of [pids.control, pids.relay, stack.child.pid!]) {
      expect(argvOf(pid)).not.toMatch(/es[ane]_[A-Za-z0-9_-]{10,}/);
    }
    expect(argvOf(pids.relay)).toContain("--node-token-file");
    // One log format for both processes: pretty, no JSON lines from either.
    expect(stack.output()).toContain("INFO: ");
    expect(stack.output()).not.toMatch(/^\{"level"/m);
    // The first start prints the admin token once (the control plane's own announcement).
    expect(stack.output().split(adminToken).length - 1).toBe(1);

    await curlOnce();
    await waitFor("the first session in history", async () =>
      (await sessionIds(api)).length === 1 ? true : undefined,
    );
    const before = await sessionIds(api);

    process.kill(pids.control, "SIGKILL");
    await waitFor("the stack to notice", () =>
      stack!.output().includes("control plane exited by SIGKILL") ? true : undefined,
    );
    await Promise.all(Array.from({ length: SESSIONS_WHILE_DOWN }, () => curlOnce()));
    expect(stack.output(), "the sessions were not made while it was down").not.toContain(
      "control plane restarted",
    );

    await waitFor("the restart", () =>
      stack!.output().includes("control plane restarted") ? true : undefined,
    );
    await waitFor(
      "the sessions made while down in history",
      async () => ((await sessionIds(api)).length >= before.length + 10 ? true : undefined),
      60_000,
      250,
    );
    // Give a duplicate time to arrive, then count precisely.
    await new Promise((r) => setTimeout(r, 2000));
    const after = await sessionIds(api);
    expect(after).toHaveLength(before.length + SESSIONS_WHILE_DOWN);
    expect(new Set(after).size).toBe(after.length);
    expect(after).toEqual(expect.arrayContaining(before));
  }, 180_000);

  it("keeps every file of the stack 0600 (dirs 0700) and shows the admin token only once", async () => {
    await stack!.stop(15_000);
    const adminToken = readFileSync(join(dir, "admin-token"), "utf8").trim();
    stack = startStack("local-stack-2");
    const pids = await pidsOf(stack);
    expect(stack.output()).not.toContain(adminToken);
    expect(stack.output()).toContain(`in ${join(dir, "admin-token")} (mode 0600)`);
    expect(stack.output()).toContain("admin token not shown again");
    expect(argvOf(pids.relay)).not.toMatch(/es[ane]_[A-Za-z0-9_-]{10,}/);

    const entries = filesUnder(dir).map((path) => {
      const mode = statSync(path).mode;
      return { path: path.slice(dir.length + 1), mode: (mode & 0o777).toString(8) };
    });
    const names = entries.map((e) => e.path);
    for (const expected of ["control.db", "control.db-wal", "control.db-shm", "admin-token"]) {
      expect(names).toContain(expected);
    }
    expect(names).toContain(join("relay", "node-token"));
    expect(names.some((n) => n.startsWith("relay/") && n.includes("snapshot"))).toBe(true);
    expect(names.some((n) => n.startsWith("relay/") && n.includes("spool"))).toBe(true);
    const open = entries.filter((e) =>
      statSync(join(dir, e.path)).isDirectory() ? e.mode !== "700" : e.mode !== "600",
    );
    expect(open, "files or folders others can read").toEqual([]);
  }, 120_000);
});

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/**
 * A fresh Debian system to install packages into, booted with systemd as its
 * init by systemd-nspawn, in a network namespace of its own (loopback only).
 * It is made from this host's files instead of a debootstrap (no mirror
 * needed at test time, a second to build): /usr is an overlay whose lower
 * layer is the host's /usr (read-only; what a package installs lands in the
 * upper layer), /etc and dpkg's database are copies, /var is new. Enabled
 * host services are left out, so only systemd's own units and what the test
 * installs run inside.
 */
export interface Container {
  root: string;
  /** Runs argv inside the container (its mount, pid and network namespaces), as root. */
  exec(argv: string[], options?: { timeoutMs?: number; input?: string }): Promise<Result>;
  /** Copies a host file to a path inside the container. */
  copyIn(hostPath: string, path: string): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Why a container cannot run here, or undefined when it can. */
export function containerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  for (const tool of ["systemd-nspawn", "nsenter", "dpkg"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" });
    } catch {
      return `${tool} is not installed (apt-get install systemd-container)`;
    }
  }
  if (!existsSync("/usr/lib/systemd/systemd")) return "systemd is not installed";
  return undefined;
}

export async function bootContainer(dir: string): Promise<Container> {
  const root = join(dir, "root");
  const mounts = [{ lower: "/usr", at: join(root, "usr") }];
  for (const [i, m] of mounts.entries()) {
    for (const d of [`upper${i}`, `work${i}`]) mkdirSync(join(dir, d), { recursive: true });
    mkdirSync(m.at, { recursive: true });
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${m.lower},upperdir=${join(dir, `upper${i}`)},workdir=${join(dir, `work${i}`)}`,
      m.at,
    ]);
  }
  for (const d of ["bin", "sbin", "lib", "lib64"]) symlinkSync(`usr/${d}`, join(root, d));
  try {
    return await boot(dir, root, mounts);
  } catch (error) {
    unmount(mounts.map((m) => m.at));
    throw error;
  }
}

async function boot(dir: string, root: string, mounts: { at: string }[]): Promise<Container> {
  // The host's "never start services" policy (container images have one) is not this system's.
  rmSync(join(root, "usr", "sbin", "policy-rc.d"), { force: true });
  cpSync("/etc", join(root, "etc"), { recursive: true, verbatimSymlinks: true });
  // No host services: only what systemd starts by itself and what the test installs.
  rmSync(join(root, "etc", "systemd", "system"), { recursive: true, force: true });
  mkdirSync(join(root, "etc", "systemd", "system"));
  // A machine id of its own: without one, systemd's first boot would enable every preset unit.
  writeFileSync(join(root, "etc", "machine-id"), `${randomBytes(16).toString("hex")}\n`);
  const dpkg = join(root, "var", "lib", "dpkg");
  for (const d of ["updates", "triggers"]) mkdirSync(join(dpkg, d), { recursive: true });
  // dpkg's database of what the shared /usr holds (its file lists too: fewer warnings).
  cpSync("/var/lib/dpkg/info", join(dpkg, "info"), { recursive: true });
  for (const f of ["status", "diversions", "statoverride"]) {
    if (existsSync(`/var/lib/dpkg/${f}`)) copyFileSync(`/var/lib/dpkg/${f}`, join(dpkg, f));
  }
  for (const d of [
    "var/log",
    "var/tmp",
    "var/cache",
    "root",
    "srv",
    "tmp",
    "proc",
    "sys",
    "dev",
    "run",
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }

  const nspawn = spawn(
    "systemd-nspawn",
    [
      "-q",
      "-D",
      root,
      "--private-network",
      "--register=no",
      "--keep-unit",
      "--console=passive",
      "-b",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  nspawn.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const leader = await waitForLeader(nspawn, () => stderr);
  const exec: Container["exec"] = (argv, options = {}) =>
    new Promise((done) => {
      const child = execFile(
        "nsenter",
        [
          "-t",
          String(leader),
          "-m",
          "-u",
          "-i",
          "-n",
          "-p",
          "-r",
          "-w",
          "--",
          "env",
          "-i",
          `PATH=${PATH}`,
          ...argv,
        ],
        { timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
        (error, stdout, err) => {
          const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
          done({ code, stdout, stderr: err });
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  const container: Container = {
    root,
    exec,
    copyIn(hostPath, path) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      copyFileSync(hostPath, join(root, path));
    },
    async [Symbol.asyncDispose]() {
      if (nspawn.exitCode === null) {
        const exited = new Promise((r) => nspawn.once("exit", r));
        nspawn.kill("SIGTERM"); // a clean shutdown of the container's systemd
        const timer = setTimeout(() => nspawn.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
      unmount(mounts.map((m) => m.at));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // Booted: the manager answers and is done with its start-up jobs.
  const deadline = Date.now() + 60_000;
  let booted: Result;
  do {
    booted = await exec(["systemctl", "is-system-running", "--wait"], { timeoutMs: 60_000 });
    if (["running", "degraded"].includes(booted.stdout.trim())) return container;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  await container[Symbol.asyncDispose]();
  throw new Error(`container did not boot: ${booted.stdout}${booted.stderr}${stderr}`);
}

/** The container's init: nspawn's child process, once it runs systemd. */
async function waitForLeader(nspawn: ChildProcess, log: () => string): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited: ${log()}`);
    for (const task of readdirSync(`/proc/${nspawn.pid}/task`)) {
      for (const child of readChildren(nspawn.pid!, task)) {
        const comm = readFileSync(`/proc/${child}/comm`, "utf8").trim();
        if (comm === "systemd") return child;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the container's systemd did not start: ${log()}`);
}

function readChildren(pid: number, task: string): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${task}/children`, "utf8")
      .split(" ")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function unmount(paths: string[]): void {
  for (const path of paths.reverse()) {
    try {
      execFileSync("umount", [path], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["-l", path], { stdio: "pipe" });
    }
  }
}

import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { descendants } from "./proc-stats";

/** A child process the bench started and will stop. */
export interface Managed {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process is gone. */
  readonly exited: Promise<number | string>;
  /** The last few KiB of stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; waits until it and its descendants are gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Managed>();

/** Kills whatever is still running; for the bench's own exit path. */
export function killAll(): void {
  for (const managed of running) {
    for (const pid of [...descendants(managed.pid), managed.pid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  running.clear();
}

export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Pipe stdout (for readers) or drop it (chatty servers such as microsocks). @default "ignore" */
  stdout?: "pipe" | "ignore";
  /** Pipe stdin so the caller can write to it. @default false */
  stdin?: boolean;
  /** Keep a tail of stderr for error messages, or drop it (microsocks logs every connection there). @default "pipe" */
  stderr?: "pipe" | "ignore";
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Starts a process with its open-file soft limit raised to the hard limit (a
 * shell `ulimit` followed by `exec`, so the pid is the program's own).
 */
export function startProcess(options: StartOptions): Managed {
  const child = spawn(
    "/bin/sh",
    [
      "-c",
      'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"',
      options.command,
      ...options.args,
    ],
    {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [
        options.stdin ? "pipe" : "ignore",
        options.stdout ?? "ignore",
        options.stderr ?? "pipe",
      ],
    },
  );
  if (child.pid === undefined)
    throw new Error(`${options.name}: could not start ${options.command}`);
  let tail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const pid = child.pid;
  const managed: Managed = {
    name: options.name,
    pid,
    child,
    exited,
    stderrTail: () => tail.trim(),
    async stop(graceMs = 5000) {
      const family = [...descendants(pid)];
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) child.kill("SIGKILL");
      await exited;
      // Forked servers (Dante) leave children that exit on their own once the parent is gone.
      const deadline = Date.now() + graceMs;
      for (const extra of family) {
        while (isAlive(extra) && Date.now() < deadline) await sleep(50);
        if (isAlive(extra)) killQuietly(extra);
      }
      running.delete(managed);
    },
  };
  running.add(managed);
  exited.then(() => {
    if (child.exitCode !== null || child.signalCode !== null) running.delete(managed);
  });
  return managed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Resolves once host:port accepts a TCP connection; rejects after `timeoutMs` or if `managed` exits. */
export async function waitForPort(
  managed: Managed,
  host: string,
  port: number,
  timeoutMs = 30000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: number | string | undefined;
  managed.exited.then((code) => {
    exitedWith = code;
  });
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new Error(
        `${managed.name} exited (${exitedWith}) before listening: ${managed.stderrTail()}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
      socket.setTimeout(1000, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(
    `${managed.name} did not listen on ${host}:${port} within ${timeoutMs} ms: ${managed.stderrTail()}`,
  );
}

/** Runs a command to completion (bounded by `timeoutMs`); resolves with its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";

/** Where e2e suites write process logs and screenshots (not committed). */
export const OUTPUT_DIR = join(import.meta.dirname, "..", ".output");

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now: a crash. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts a real process of ours and captures its output to e2e/.output/<name>.log. */
export function startProcess(options: StartOptions): ManagedProcess {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const logPath = join(OUTPUT_DIR, `${options.name}.log`);
  const log = createWriteStream(logPath, { flags: "a" });
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const capture = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > 4_000_000) text = text.slice(-2_000_000);
    log.write(chunk);
  };
  child.stdout?.on("data", capture);
  child.stderr?.on("data", capture);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once("exit", (code) => {
      log.end();
      resolve(code);
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async (graceMs = 5_000) => {
    if (!running()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return {
    name: options.name,
    child,
    logPath,
    output: () => text,
    stop,
    kill: async () => {
      if (!running()) return;
      child.kill("SIGKILL");
      await exited;
    },
    exited,
    [Symbol.asyncDispose]: () => stop(),
  };
}

/** Polls `check` until it returns a value that is not undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}

/** Resolves when GET url answers 200. */
export function waitForHttp(url: string, timeoutMs = 20_000): Promise<true> {
  return waitFor(
    url,
    async () => ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok ? true : undefined),
    timeoutMs,
  );
}

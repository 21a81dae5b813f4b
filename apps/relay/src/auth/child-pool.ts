import { spawn } from "node:child_process";

export interface ChildPoolOptions {
  /** Child processes running at once. @default 8 */
  maxProcesses?: number;
  /** Runs waiting for a free slot; past it a run is refused at once. @default 64 */
  maxQueued?: number;
  /** A child still running after this long is killed (SIGKILL). @default 5000 (ms) */
  timeoutMs?: number;
  /** Environment beside PATH and LANG (nothing else of the relay's own is passed on). @default {} */
  env?: Readonly<Record<string, string>>;
}

/** How one run ended. `busy`: refused because the pool and its queue were full. */
export type ChildResult =
  | { kind: "exited"; code: number; stdout: string; stderr: string }
  | { kind: "timeout" }
  | { kind: "busy" }
  | { kind: "failed"; message: string };

/** Every helper's search path and locale, whatever `env` says: fixed, untranslated output. */
const HELPER_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" } as const;

/** Output kept per stream; a helper that prints more is cut, not buffered without bound. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Runs short-lived helper programs (pamtester, id) in child processes, a bounded
 * number at once, each with a deadline. A slow PAM stack or directory then
 * blocks neither the event loop nor libuv's threadpool (argon2 and DNS share
 * it): it only holds one of this pool's slots until its deadline kills it.
 */
export class ChildPool {
  readonly #max: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #env: Readonly<Record<string, string>>;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(options: ChildPoolOptions = {}) {
    this.#max = options.maxProcesses ?? 8;
    this.#maxQueued = options.maxQueued ?? 64;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#env = Object.freeze({ ...options.env, ...HELPER_ENV });
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Runs `file` with `args` (never through a shell), writing `stdin` to it and closing it. */
  async run(file: string, args: readonly string[], stdin = ""): Promise<ChildResult> {
    if (this.#running >= this.#max) {
      if (this.#queue.length >= this.#maxQueued) return { kind: "busy" };
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    this.#running += 1;
    try {
      return await this.#spawn(file, args, stdin);
    } finally {
      this.#running -= 1;
      this.#queue.shift()?.();
    }
  }

  #spawn(file: string, args: readonly string[], stdin: string): Promise<ChildResult> {
    return new Promise((resolve) => {
      const child = spawn(file, args, {
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group, so the deadline also kills what it started (pam_exec's helpers).
        detached: true,
        env: this.#env,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, this.#timeoutMs);
      child.stdout.on("data", (chunk: Buffer) => {
        if (outBytes < MAX_OUTPUT_BYTES) out.push(chunk);
        outBytes += chunk.length;
      });
      child.stderr.on("data", (chunk: Buffer) => {
        if (errBytes < MAX_OUTPUT_BYTES) err.push(chunk);
        errBytes += chunk.length;
      });
      // A child that exits before reading its stdin makes the write fail with EPIPE.
      child.stdin.on("error", () => {});
      child.stdin.end(stdin);
      child.on("error", (error) => {
        clearTimeout(timer);
        resolve({ kind: "failed", message: error.message });
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (timedOut) resolve({ kind: "timeout" });
        else if (code === null) resolve({ kind: "failed", message: `killed by ${signal}` });
        else
          resolve({
            kind: "exited",
            code,
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(err).toString("utf8"),
          });
      });
    });
  }
}

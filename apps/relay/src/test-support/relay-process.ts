import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import type { SessionRecord } from "../session/record";

export const BIN = resolve(import.meta.dirname, "../../bin/edgesocks-relay.mjs");

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export interface RelayProcess {
  readonly port: number;
  readonly opsPort: number;
  readonly child: ChildProcess;
  output(): string;
  /** GET on the ops server: status and parsed JSON (or text). */
  ops(path: string): Promise<{ status: number; body: string }>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): Promise<number | string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The real relay binary from `configPath`, with a state dir; ready when /ready says so (or,
 * with `fleet`, when it serves /health: in fleet mode it is not ready before a snapshot)
 * and it has logged "relay listening" (all its threads are up).
 */
export async function startRelayProcess(options: {
  configPath: string;
  stateDir: string;
  port?: number;
  opsPort?: number;
  fleet?: { controlUrl: string; nodeToken: string };
  /** More flags, e.g. `["--user", "nobody"]`. */
  args?: string[];
  /**
   * A command the relay runs under, which must exec it in place (so signals reach the
   * relay itself), e.g. `unshare --mount … sh -c '… exec "$@"'`.
   */
  prefix?: string[];
}): Promise<RelayProcess> {
  const port = options.port ?? (await freePort());
  const opsPort = options.opsPort ?? (await freePort());
  const [file, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(
    file!,
    [
      ...prefixArgs,
      BIN,
      ...["--config", options.configPath, "--state-dir", options.stateDir],
      ...["--port", String(port), "--ops-bind", `127.0.0.1:${opsPort}`],
      ...["--log-level", "info", "--log-format", "json", "--allow-root"],
      ...(options.fleet
        ? [
            ...["--control-url", options.fleet.controlUrl],
            ...["--region", "test", "--name", "relay-test"],
          ]
        : []),
      ...(options.args ?? []),
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // The token through the environment, as the launcher hands it (never in argv).
      env: options.fleet
        ? { ...process.env, EDGESOCKS_NODE_TOKEN: options.fleet.nodeToken }
        : process.env,
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | string>((done) =>
    child.once("exit", (code, signal) => done(code ?? signal ?? "unknown")),
  );
  const ops = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${opsPort}${path}`);
    return { status: response.status, body: await response.text() };
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = await ops(options.fleet ? "/health" : "/ready").then(
      (r) => r.status === 200,
      () => false,
    );
    // And every thread started: until then the relay has no signal handlers (a
    // SIGTERM would end it without flushing its records).
    if (ready && output.includes('"msg":"relay listening"')) break;
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`relay did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    port,
    opsPort,
    child,
    output: () => output,
    ops,
    exited,
    kill,
    [Symbol.asyncDispose]: async () => {
      await kill("SIGKILL");
    },
  };
}

/** Every record in a spool dir's segments, in order (unparseable lines throw: none may be torn). */
export function spooledRecords(spoolDir: string): SessionRecord[] {
  return readdirSync(spoolDir)
    .filter((f) => f.startsWith("segment-"))
    .sort()
    .flatMap((f) => readFileSync(join(spoolDir, f), "utf8").split("\n"))
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as SessionRecord);
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

import { createInterface } from "node:readline";
import { type Managed, startProcess } from "./processes";
import { CLIENT_HOSTS, TARGET_HOSTS } from "./topology";

/** How the load generator reaches the target: straight (direct) or through a SOCKS server. */
export interface Route {
  proxy?: {
    host: string;
    port: number;
    proto: "socks5" | "socks4" | "socks4a";
    user?: string;
    password?: string;
    tls?: boolean;
    /** Returning clients: every connection offers the newest session ticket (a resumed handshake). */
    tlsResume?: boolean;
  };
}

/** The load generator's final line (see loadgen.c print_result). */
export interface LoadResult {
  started: number;
  completed: number;
  established: number;
  windowS: number;
  ratePerS: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  bytesTotal: number;
  bytesWindow: number;
  bytesPerS: number;
  cpuS: number;
  wallS: number;
  /** Connections whose TLS handshake resumed a session (--tls-resume). */
  tlsResumed: number;
  errors: Record<string, number>;
}

const NUMBER_FIELDS = {
  started: "started",
  completed: "completed",
  established: "established",
  windowS: "window_s",
  ratePerS: "rate_per_s",
  p50Us: "p50_us",
  p99Us: "p99_us",
  maxUs: "max_us",
  bytesTotal: "bytes_total",
  bytesWindow: "bytes_window",
  bytesPerS: "bytes_per_s",
  cpuS: "cpu_s",
  wallS: "wall_s",
  tlsResumed: "tls_resumed",
} as const;

/** Checks one result line once; everything downstream trusts the type. */
function parseResult(line: Record<string, unknown>): LoadResult {
  const out: Partial<LoadResult> = {};
  for (const [key, field] of Object.entries(NUMBER_FIELDS)) {
    const value = line[field];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`loadgen result: "${field}" is not a number: ${JSON.stringify(line)}`);
    }
    (out as Record<string, number>)[key] = value;
  }
  const errors = line.errors;
  if (typeof errors !== "object" || errors === null)
    throw new Error("loadgen result: no errors object");
  out.errors = Object.fromEntries(
    Object.entries(errors).filter(
      (entry): entry is [string, number] => typeof entry[1] === "number",
    ),
  );
  return out as LoadResult;
}

export function errorCount(result: LoadResult): number {
  return Object.values(result.errors).reduce((sum, n) => sum + n, 0);
}

export function describeErrors(result: LoadResult): string {
  return Object.entries(result.errors)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
}

function routeArgs(route: Route): string[] {
  const proxy = route.proxy;
  if (!proxy) return ["--proto", "none"];
  const args = ["--proxy", `${proxy.host}:${proxy.port}`, "--proto", proxy.proto];
  if (proxy.user !== undefined) args.push("--user", proxy.user, "--pass", proxy.password ?? "");
  if (proxy.tls) args.push(proxy.tlsResume ? "--tls-resume" : "--tls");
  return args;
}

interface Session {
  managed: Managed;
  /** Resolves with the result line. */
  result: Promise<LoadResult>;
}

/** Starts the load generator; `onEvent` sees every non-result line ("ready", "progress"). */
function launch(
  binary: string,
  args: string[],
  maxMs: number,
  onEvent: (event: Record<string, unknown>) => void = () => {},
): Session {
  const managed = startProcess({
    name: "loadgen",
    command: binary,
    args: [
      ...args,
      "--clients",
      CLIENT_HOSTS,
      "--targets",
      TARGET_HOSTS,
      "--max-ms",
      String(maxMs),
    ],
    stdout: "pipe",
    stdin: true,
  });
  const result = new Promise<LoadResult>((resolve, reject) => {
    let settled = false;
    const lines = createInterface({ input: managed.child.stdout! });
    lines.on("line", (text) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (event.event === "result") {
        settled = true;
        resolve(parseResult(event));
      } else {
        onEvent(event);
      }
    });
    managed.exited.then((code) => {
      if (!settled)
        reject(new Error(`loadgen exited (${code}) without a result: ${managed.stderrTail()}`));
    });
  });
  return { managed, result };
}

async function finish(session: Session): Promise<LoadResult> {
  try {
    return await session.result;
  } finally {
    await session.managed.stop(2000);
  }
}

export interface RateRun {
  route: Route;
  targetPort: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
}

/** Connections per second and handshake-to-first-byte latency at a fixed concurrency. */
export function runRate(binary: string, run: RateRun): Promise<LoadResult> {
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    "--mode", "conn", ...routeArgs(run.route),
    "--target-port", String(run.targetPort),
    "--concurrency", String(run.concurrency),
    "--duration-ms", String(run.durationMs),
    "--warmup-ms", String(run.warmupMs),
  ];
  return finish(launch(binary, args, run.durationMs + 30000));
}

export interface BulkRun {
  route: Route;
  targetPort: number;
  streams: number;
  direction: "up" | "down";
  durationMs: number;
  warmupMs: number;
}

/** Throughput of `streams` connections moving bytes one way. */
export function runBulk(binary: string, run: BulkRun): Promise<LoadResult> {
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    "--mode", "bulk", ...routeArgs(run.route),
    "--target-port", String(run.targetPort),
    "--streams", String(run.streams),
    "--direction", run.direction,
    "--duration-ms", String(run.durationMs),
    "--warmup-ms", String(run.warmupMs),
  ];
  return finish(launch(binary, args, run.durationMs + 30000));
}

export interface IdleRun {
  route: Route;
  targetPort: number;
  connections: number;
  /** Handshakes in flight at once while opening. */
  concurrency: number;
  /** Called once every connection is open (or failed), before they are closed. */
  whileHeld: (established: number) => Promise<void>;
  maxMs: number;
}

/** Opens `connections` relayed connections, holds them during `whileHeld`, then resets them. */
export async function runIdle(binary: string, run: IdleRun): Promise<LoadResult> {
  let onReady: (established: number) => void = () => {};
  const ready = new Promise<number>((resolve) => {
    onReady = resolve;
  });
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    "--mode", "idle", ...routeArgs(run.route),
    "--target-port", String(run.targetPort),
    "--count", String(run.connections),
    "--concurrency", String(run.concurrency),
    "--hold-ms", String(run.maxMs),
  ];
  const session = launch(binary, args, run.maxMs * 2, (event) => {
    if (event.event === "ready") onReady(Number(event.established));
  });
  const established = await Promise.race([
    ready,
    session.result.then((result) => result.established),
  ]);
  await run.whileHeld(established);
  session.managed.child.stdin?.end("\n");
  return finish(session);
}

export interface CountRun {
  route: Route;
  targetPort: number;
  connections: number;
  concurrency: number;
  progressEvery: number;
  onProgress: (completed: number) => void;
  maxMs: number;
}

/** A fixed number of connections (for the leak check), reporting progress every `progressEvery`. */
export function runCount(binary: string, run: CountRun): Promise<LoadResult> {
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    "--mode", "conn", ...routeArgs(run.route),
    "--target-port", String(run.targetPort),
    "--count", String(run.connections),
    "--concurrency", String(run.concurrency),
    "--progress-every", String(run.progressEvery),
  ];
  return finish(
    launch(binary, args, run.maxMs, (event) => {
      if (event.event === "progress") run.onProgress(Number(event.completed));
    }),
  );
}

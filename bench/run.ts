/**
 * `npm run bench`: the side-by-side benchmark of issue 7. Measures a direct
 * connection (the machine's limit), microsocks, Dante and our relay (plain,
 * with user/password auth, with TLS) with one native load generator, and
 * writes bench/results/latest.md (and .json). See bench/README.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildReleaseTree } from "../deploy/src/release-build";
import { generateAclRules } from "./acl-rules";
import { buildNative, type NativeTools } from "./native";
import { type BenchOptions, parseOptions, SERVER_IDS } from "./options";
import { ensurePeers, type PeerId, peerVersions } from "./peer-install";
import type { TreeMemory } from "./proc-stats";
import { killAll, type Managed, runCommand, startProcess } from "./processes";
import { QuietGate } from "./quiet";
import { type BenchResults, renderReport, type ServerResult } from "./report";
import {
  emptySamples,
  FEW_IDLE,
  freshMemory,
  measureIdle,
  measureLeak,
  type Plan,
  runRound,
  type ServerSamples,
  summarise,
  warmUp,
} from "./scenarios";
import {
  PEERS_RUN,
  RELAY_SOURCE_BIN,
  type RunningServer,
  SERVER_LABELS,
  type ServerId,
  startServer,
  TLS_HANDSHAKE,
} from "./servers";
import { makeSelfSignedCert } from "./tls-cert";
import { TARGET_HOSTS, TARGET_PORT_BASE } from "./topology";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = join(BENCH_DIR, "..");
const RESULTS_DIR = join(BENCH_DIR, "results");
const README = join(BENCH_DIR, "README.md");
const README_START = "<!-- latest-results:start -->";
const README_END = "<!-- latest-results:end -->";

const started = Date.now();
function log(line: string): void {
  process.stderr.write(
    `[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`,
  );
}

const ALL_BULK = ["1-up", "1-down", "8-up", "8-down"] as const;
const PLANS: Record<ServerId, Plan> = {
  direct: { idle: false, rate: [50, 500], bulk: ALL_BULK, leak: false },
  microsocks: { idle: true, rate: [50, 500], bulk: ALL_BULK, leak: false },
  dante: { idle: true, rate: [50, 500], bulk: ALL_BULK, leak: false },
  edgesocks: { idle: true, rate: [50, 500], bulk: ALL_BULK, leak: true },
  "edgesocks-1thread": { idle: true, rate: [50, 500], bulk: ALL_BULK, leak: false },
  "edgesocks-userpass": { idle: true, rate: [50, 500], bulk: ["1-up", "1-down"], leak: false },
  "edgesocks-tls": { idle: true, rate: [50, 500], bulk: ["1-up", "1-down"], leak: false },
  // The same relay as +TLS; only the handshakes differ, so only the connection rate is measured.
  "edgesocks-tls-resumed": { idle: false, rate: [50, 500], bulk: [], leak: false },
  // The cost of one extra hop: the relay routes every CONNECT through a microsocks parent.
  "edgesocks-routed": { idle: false, rate: [50, 500], bulk: ["1-up", "1-down"], leak: false },
  // The TLS peer, measured as +TLS and +TLS resumed are.
  "haproxy-tls": { idle: true, rate: [50, 500], bulk: ["1-up", "1-down"], leak: false },
  "haproxy-tls-resumed": { idle: false, rate: [50, 500], bulk: [], leak: false },
};

async function openFileHardLimit(): Promise<number> {
  const result = await runCommand("/bin/sh", ["-c", "ulimit -Hn"], { timeoutMs: 5000 });
  const n = Number(result.stdout.trim());
  return Number.isFinite(n) ? n : 1024;
}

function osName(): string {
  try {
    return (
      /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "Linux"
    );
  } catch {
    return "Linux";
  }
}

/**
 * Our relay as it ships: the release build (one bundled file, no TypeScript
 * loader at start), or the sources through tsx with `--from-source` (a
 * profile then names our files).
 */
async function relayEntry(
  options: BenchOptions,
  selected: readonly ServerId[],
  workDir: string,
  log: (line: string) => void,
): Promise<string> {
  if (options.fromSource || !selected.some((id) => id.startsWith("edgesocks"))) {
    return RELAY_SOURCE_BIN;
  }
  log("building the relay's release bundle (esbuild)");
  const tree = await buildReleaseTree({
    repoRoot: join(dirname(fileURLToPath(import.meta.url)), ".."),
    app: "relay",
    outDir: join(workDir, "relay-release"),
  });
  return join(tree.dir, "apps/relay/bin/edgesocks-relay.mjs");
}

async function startTargets(native: NativeTools): Promise<Managed> {
  const managed = startProcess({
    name: "targets",
    command: native.target,
    args: [
      "--hosts",
      TARGET_HOSTS,
      "--port-base",
      String(TARGET_PORT_BASE),
      "--max-seconds",
      "7200",
    ],
    stdout: "pipe",
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("targets did not start within 10 s")), 10000);
    managed.child.stdout!.once("data", () => {
      clearTimeout(timer);
      resolve();
    });
    managed.exited.then((code) =>
      reject(new Error(`targets exited (${code}): ${managed.stderrTail()}`)),
    );
  });
  return managed;
}

async function runAclBench(quick: boolean): Promise<BenchResults["aclBench"]> {
  const outputs: string[] = [];
  let ok = true;
  // The control plane's ingest and query latencies on a `file:` database (the networked libSQL
  // comparison is `tsx bench/control-bench.ts --database both`).
  const controlArgs = ["--database", "file", ...(quick ? ["--quick"] : [])];
  for (const [name, args] of [
    ["acl-bench.ts", []],
    ["auth-bench.ts", []],
    ["gssapi-bench.ts", []],
    ["control-bench.ts", controlArgs],
  ] as const) {
    const script = join(BENCH_DIR, name);
    if (!existsSync(script)) continue;
    log(`micro-benchmark bench/${name}`);
    const result = await runCommand(process.execPath, ["--import", "tsx", script, ...args], {
      timeoutMs: 600000,
      cwd: ROOT_DIR,
    });
    ok &&= result.code === 0;
    if (result.code !== 0) outputs.push(`${result.stdout}\n${result.stderr}`.trim());
    else if (name !== "control-bench.ts") outputs.push(result.stdout);
    else {
      // Its lines are plain text (and a last JSON line for scripts).
      const lines = result.stdout
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("{"));
      outputs.push(
        ["### Control plane (bench/control-bench.ts)", "", "```", ...lines, "```"].join("\n"),
      );
    }
  }
  return outputs.length === 0 ? null : { ok, output: outputs.join("\n\n") };
}

function updateReadme(report: string): void {
  if (!existsSync(README)) return;
  const text = readFileSync(README, "utf8");
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start) return;
  // The report's headings sit two levels deeper inside the README.
  const body = report.replace(/^(#+) /gm, (_, hashes: string) => `${hashes}## `);
  writeFileSync(README, `${text.slice(0, start + README_START.length)}\n${body}${text.slice(end)}`);
}

async function main(options: BenchOptions): Promise<void> {
  const selected = SERVER_IDS.filter((id) => options.only === null || options.only.has(id));
  const workDir = mkdtempSync(join(tmpdir(), "edgesocks-bench-"));
  const profileDir = options.profile ? join(RESULTS_DIR, "profiles") : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const needs = (id: ServerId) => PEERS_RUN[id] ?? [];
  const peers = selected.some((id) => needs(id).length > 0)
    ? await ensurePeers(options.install, log)
    : new Set<PeerId>();
  log("compiling the load generator and targets (cc -O2)");
  const native = await buildNative(log, options.install);
  const usesTls = (id: ServerId) => TLS_HANDSHAKE[id] !== undefined;
  const cert = selected.some(usesTls) && native.tls ? await makeSelfSignedCert(workDir) : null;
  const hardLimit = await openFileHardLimit();
  const idleConnections = Math.min(options.idleConnections, Math.floor((hardLimit - 200) / 2));
  const acl = generateAclRules(1000);
  const relayBin = await relayEntry(options, selected, workDir, log);

  const targets = await startTargets(native);
  const samples = new Map<ServerId, ServerSamples>();
  const skipped = new Map<ServerId, string>();
  for (const id of selected) {
    const missing = needs(id).filter((peer) => !peers.has(peer));
    if (missing.length > 0) skipped.set(id, `${missing.join(" and ")} not installed`);
    else if (usesTls(id) && !cert) skipped.set(id, "the load generator was built without OpenSSL");
    else samples.set(id, emptySamples());
  }
  // Waiting for quiet moments and repeating runs other work spoiled: at most this long in all.
  const gate = new QuietGate(options.quick ? 30000 : 240000);
  const benchCpu = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const quietPct = await gate.waitForQuiet(benchCpu, 10, 30000);
  if (quietPct > 10) {
    log(
      `the machine is busy (other processes: ${quietPct.toFixed(0)}% of a core); figures will be noisy`,
    );
  }
  const context = {
    loadgen: native.loadgen,
    targetsPid: targets.pid,
    options,
    idleConnections,
    gate,
    log,
  };
  /** One start-measure-stop of a server; a failure is recorded and the server skipped from then on. */
  const session = async (
    id: ServerId,
    what: string,
    work: (server: RunningServer) => Promise<void>,
    beforeWarmUp?: (server: RunningServer) => Promise<void>,
  ) => {
    if (skipped.has(id)) return;
    log(`${SERVER_LABELS[id]}: ${what}`);
    let server: RunningServer | null = null;
    try {
      server = await startServer(id, { workDir, profileDir, cert, relayBin });
      await beforeWarmUp?.(server);
      await warmUp(server, context);
      await work(server);
    } catch (error) {
      log(`${SERVER_LABELS[id]}: failed: ${(error as Error).message}`);
      skipped.set(id, (error as Error).message.split("\n")[0] ?? "failed");
    } finally {
      await server?.stop();
    }
  };
  try {
    // Rounds interleave the servers, so a burst of other work on the machine
    // lands on one run of each rather than on every run of one.
    for (let round = 1; round <= options.runs; round++) {
      for (const id of samples.keys()) {
        await session(id, `round ${round} of ${options.runs}`, (server) =>
          runRound(server, PLANS[id], context, samples.get(id)!),
        );
      }
    }
    /** A session whose work gets the process's memory from before its first connection. */
    const freshSession = async (
      id: ServerId,
      what: string,
      work: (server: RunningServer, fresh: TreeMemory | null) => Promise<void>,
    ) => {
      let fresh: TreeMemory | null = null;
      await session(
        id,
        what,
        (server) => work(server, fresh),
        async (server) => {
          fresh = await freshMemory(server);
        },
      );
    };
    // Memory on a fresh process, then the leak check on the same one.
    for (const id of samples.keys()) {
      const plan = PLANS[id];
      const gathered = samples.get(id)!;
      if (!plan.idle && !plan.leak) continue;
      await freshSession(
        id,
        plan.leak ? "idle memory and leak check" : "idle memory",
        async (server, fresh) => {
          if (plan.idle && fresh) {
            gathered.idle = await measureIdle(server, context, gathered, fresh, idleConnections);
          }
          if (plan.leak) await measureLeak(server, context, gathered);
        },
      );
      // A second fresh process for the smaller count: on the first one the heap has grown.
      if (!plan.idle || idleConnections <= FEW_IDLE) continue;
      await freshSession(
        id,
        `idle memory at ${FEW_IDLE.toLocaleString("en-US")} connections`,
        async (server, fresh) => {
          if (fresh)
            gathered.idleFew = await measureIdle(server, context, gathered, fresh, FEW_IDLE);
        },
      );
    }
  } finally {
    await targets.stop(2000);
  }
  const results: ServerResult[] = selected.map((id) => {
    const label = SERVER_LABELS[id];
    const gathered = samples.get(id);
    const reason = skipped.get(id) ?? null;
    const hasRuns =
      gathered && Object.keys(gathered.rate).length + Object.keys(gathered.bulk).length > 0;
    return { id, label, figures: hasRuns ? summarise(gathered) : null, skipped: reason };
  });
  const aclBench = options.aclBench ? await runAclBench(options.quick) : null;

  const relayPackage = JSON.parse(
    readFileSync(join(ROOT_DIR, "apps/relay/package.json"), "utf8"),
  ) as {
    version?: string;
  };
  const report: BenchResults = {
    startedAt: new Date(started).toISOString(),
    elapsedS: (Date.now() - started) / 1000,
    machine: {
      cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      kernel: release(),
      os: osName(),
      node: process.version,
      loadAverage: loadavg()[0] ?? 0,
    },
    versions: { ...(await peerVersions()), edgesocks: relayPackage.version ?? "?" },
    settings: {
      quick: options.quick,
      fromSource: options.fromSource,
      runs: options.runs,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      idleRequested: options.idleConnections,
      idleConnections,
      openFileLimit: hardLimit,
      leakConnections: options.leakConnections,
    },
    acl: { rules: acl.ruleCount, rulesPerBenchUser: acl.rulesForBenchUsers },
    tls: cert?.description ?? null,
    repeatedRuns: gate.repeats,
    servers: results,
    aclBench,
  };
  const markdown = renderReport(report);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${options.out}.md`), markdown);
  writeFileSync(join(RESULTS_DIR, `${options.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  if (!options.quick && options.only === null && options.out === "latest") updateReadme(markdown);
  rmSync(workDir, { recursive: true, force: true });
  rmSync(native.dir, { recursive: true, force: true });
  process.stdout.write(`\n${markdown}`);
  log(
    `wrote bench/results/${options.out}.md${profileDir ? ` and CPU profiles in ${profileDir}` : ""}`,
  );
}

process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping everything`);
    killAll();
    process.exit(130);
  });
}

let options: BenchOptions | null;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(2);
}
if (options) {
  main(options).catch((error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    killAll();
    process.exit(1);
  });
}

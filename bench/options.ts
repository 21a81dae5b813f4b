import { parseArgs } from "node:util";

/** What one `npm run bench` does; every figure below is a median over `runs`. */
export interface BenchOptions {
  /** The ~2-minute smoke run: one repetition, short runs, fewer connections. */
  quick: boolean;
  /** Repetitions per measurement; the report shows the median. */
  runs: number;
  /** Length of one connection-rate or throughput run, warm-up included, in ms. */
  durationMs: number;
  /** The first part of each run that is not counted, in ms. */
  warmupMs: number;
  /** Relayed connections held open for the memory figure (capped by the open-file limit). */
  idleConnections: number;
  /** Sequential connections through our relay for the leak check. */
  leakConnections: number;
  /** Server ids to measure (SERVER_IDS); null: all. */
  only: ReadonlySet<string> | null;
  /** Run our relay under `node --cpu-prof`, writing profiles to bench/results/profiles/. */
  profile: boolean;
  /** Run our relay from its TypeScript sources (tsx) instead of the release build. */
  fromSource: boolean;
  /** Install missing peers with apt-get. */
  install: boolean;
  /** Run bench/acl-bench.ts when it exists. */
  aclBench: boolean;
  /** Report name: bench/results/NAME.md and NAME.json. @default "latest" */
  out: string;
}

const HELP = `npm run bench -- [options]

  --quick              smoke run (~2 minutes): 1 repetition, 2 s runs, 2,000 idle, 20,000 leak
  --runs N             repetitions per figure, median reported (default 3)
  --duration-ms N      length of one rate/throughput run incl. warm-up (default 4000)
  --warmup-ms N        uncounted start of each run (default 1000)
  --idle N             idle relayed connections for the memory figure (default 10000;
                       above 2,000 it is also measured at 2,000 on another fresh process)
  --leak N             sequential connections for the leak check (default 200000;
                       the issue's figure is --leak 1000000, about 3 more minutes)
  --only a,b           servers: direct,microsocks,dante,edgesocks,edgesocks-1thread,
                       edgesocks-userpass,edgesocks-tls,edgesocks-tls-resumed,edgesocks-routed,
                       haproxy-tls,haproxy-tls-resumed (edgesocks: the default, one thread
                       per core; edgesocks-1thread: server.workers = 1; edgesocks-routed:
                       through microsocks as a parent; haproxy-tls: SOCKS over TLS from
                       haproxy terminating TLS in front of microsocks, the TLS peer)
  --profile            run our relay with --cpu-prof (profiles in bench/results/profiles/)
  --from-source        run our relay from its TypeScript sources through tsx, not the
                       release build (esbuild bundle) it ships as; profiles then name our files
  --no-install         do not apt-get missing peers; skip them instead
  --no-acl-bench       skip the micro-benchmarks (ACL, authentication, GSS-API, control plane)
  --out NAME           write bench/results/NAME.md and .json (default latest)
  -h, --help           this text`;

export const SERVER_IDS = [
  "direct",
  "microsocks",
  "dante",
  "edgesocks",
  "edgesocks-1thread",
  "edgesocks-userpass",
  "edgesocks-tls",
  "edgesocks-tls-resumed",
  "edgesocks-routed",
  "haproxy-tls",
  "haproxy-tls-resumed",
] as const;

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Parses argv; throws an Error naming the flag on bad input, returns null after --help. */
export function parseOptions(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      "duration-ms": { type: "string" },
      "warmup-ms": { type: "string" },
      idle: { type: "string" },
      leak: { type: "string" },
      only: { type: "string" },
      profile: { type: "boolean", default: false },
      "from-source": { type: "boolean", default: false },
      "no-install": { type: "boolean", default: false },
      "no-acl-bench": { type: "boolean", default: false },
      out: { type: "string", default: "latest" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return null;
  }
  const quick = values.quick;
  if (!/^[\w.-]+$/.test(values.out))
    throw new Error(`--out: expected a plain file name, got "${values.out}"`);
  const only =
    values.only === undefined ? null : new Set(values.only.split(",").map((s) => s.trim()));
  for (const id of only ?? []) {
    if (!(SERVER_IDS as readonly string[]).includes(id)) {
      throw new Error(`--only: unknown server "${id}"; expected some of ${SERVER_IDS.join(", ")}`);
    }
  }
  const durationMs = positive("--duration-ms", values["duration-ms"], quick ? 2000 : 4000);
  const warmupMs = positive("--warmup-ms", values["warmup-ms"], quick ? 500 : 1000);
  if (warmupMs >= durationMs) throw new Error("--warmup-ms: must be shorter than --duration-ms");
  return {
    quick,
    runs: positive("--runs", values.runs, quick ? 1 : 3),
    durationMs,
    warmupMs,
    idleConnections: positive("--idle", values.idle, quick ? 2000 : 10000),
    leakConnections: positive("--leak", values.leak, quick ? 20000 : 200000),
    only,
    profile: values.profile,
    fromSource: values["from-source"],
    install: !values["no-install"],
    aclBench: !values["no-acl-bench"],
    out: values.out,
  };
}

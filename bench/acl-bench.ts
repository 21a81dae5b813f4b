/**
 * ACL evaluation benchmark: a 10,000-rule snapshot (domains, wildcards, v4/v6 CIDRs, port ranges,
 * users in groups) and ~1,000,000 decisions. Decisions are timed in batches with
 * process.hrtime.bigint (one decision is below the timer's useful resolution); p50/p99 are over
 * the per-decision average of each batch. Run: `tsx bench/acl-bench.ts`.
 */
import {
  type AclRequest,
  type AclRule,
  compileAcl,
  evaluate,
  type PolicySnapshotInput,
  sealSnapshot,
} from "@edgesocks/policy";

const RULES = 10_000;
const USERS = 400;
const GROUPS = 40;
const RULES_PER_USER = 10;
const BATCH = 100;
const TOTAL_DECISIONS = 1_000_000;

// mulberry32: a seeded PRNG, so every run measures the same snapshot and requests.
let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
function weighted<T>(choices: readonly (readonly [number, () => T])[]): T {
  let roll = random() * choices.reduce((sum, [weight]) => sum + weight, 0);
  for (const [weight, make] of choices) {
    roll -= weight;
    if (roll < 0) return make();
  }
  return choices[choices.length - 1]![1]();
}

const WORDS = [
  "api",
  "cdn",
  "mail",
  "shop",
  "auth",
  "data",
  "img",
  "static",
  "app",
  "git",
  "db",
  "vpn",
];
const TLDS = ["com", "net", "org", "io", "dev", "co.uk"];
const sites = Array.from(
  { length: 3000 },
  (_, i) => `${pick(WORDS)}${i}.${pick(WORDS)}-corp.${pick(TLDS)}`,
);
const zones = Array.from({ length: 800 }, (_, i) => `zone${i}.${pick(TLDS)}`);
const v4Networks: [string, number][] = [];
const v6Networks: [string, number][] = [];

function v4Cidr(): string {
  const prefix = pick([8, 12, 16, 20, 24, 24, 28, 32]);
  const net = `${10 + int(200)}.${int(256)}.${int(256)}.${int(256)}`;
  v4Networks.push([net, prefix]);
  return `${net}/${prefix}`;
}
function v6Cidr(): string {
  const prefix = pick([32, 48, 56, 64, 128]);
  const net = `2001:db8:${int(0xffff).toString(16)}:${int(0xffff).toString(16)}::${int(0xffff).toString(16)}`;
  v6Networks.push([net, prefix]);
  return `${net}/${prefix}`;
}
const destination = () =>
  weighted<string>([
    [35, () => pick(sites)],
    [25, () => `*.${pick(zones)}`],
    [3, () => `${pick(WORDS)}.*.${pick(TLDS)}`],
    [20, v4Cidr],
    [5, () => `${10 + int(200)}.${int(256)}.${int(256)}.${int(256)}`],
    [8, v6Cidr],
    [4, () => "*"],
  ]);
const portSpec = () =>
  weighted<string>([
    [30, () => "443"],
    [20, () => "80,443"],
    [25, () => "*"],
    [10, () => "8000-9000"],
    [5, () => "22"],
    [10, () => "80,443,8080-8090"],
  ]);

const groups = Array.from({ length: GROUPS }, (_, i) => ({ name: `group-${i}` }));
const users = Array.from({ length: USERS }, (_, i) => ({
  username: `user-${i}`,
  groups: [...new Set(Array.from({ length: 1 + int(3) }, () => pick(groups).name))],
}));
const rules: AclRule[] = [];
for (let i = 0; i < RULES; i++) {
  const owner =
    i < USERS * RULES_PER_USER
      ? { kind: "user" as const, name: users[i % USERS]!.username }
      : { kind: "group" as const, name: groups[i % GROUPS]!.name };
  rules.push({
    id: `r${i}`,
    owner,
    action: random() < 0.25 ? "block" : "allow",
    destinations: Array.from({ length: 1 + int(3) }, destination),
    ports: [portSpec()],
    protocols: [
      weighted<AclRule["protocols"][number]>([
        [60, () => "tcp"],
        [30, () => "both"],
        [10, () => "udp"],
      ]),
    ],
    priority: pick([0, 10, 50, 100, 500, 1000]),
  });
}

const draft: Omit<PolicySnapshotInput, "hash"> = {
  version: 1,
  epoch: "bench",
  createdAt: new Date().toISOString(),
  auth: { methods: ["userpass"] },
  acl: { enabled: true, defaultPolicy: "block" },
  users,
  groups,
  rules,
  qos: { enabled: false },
};

function inV4(net: string, prefix: number): string {
  const parts = net.split(".").map(Number);
  const value = (parts[0]! * 2 ** 24 + parts[1]! * 2 ** 16 + parts[2]! * 256 + parts[3]!) >>> 0;
  const host = prefix === 32 ? 0 : int(2 ** (32 - prefix));
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const address = ((value & mask) >>> 0) + host;
  return [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join(".");
}
const randomV4 = () => `${1 + int(223)}.${int(256)}.${int(256)}.${int(256)}`;
const mixedCase = (name: string) => (random() < 0.2 ? name.toUpperCase() : name);

type Kind = "name" | "name+address" | "ip";
function makeRequest(kind: Kind): AclRequest {
  const user = random() < 0.05 ? "anonymous" : pick(users).username;
  const port = pick([443, 443, 443, 80, 22, 8080, 8443, 8500, 53]);
  const protocol = port === 53 ? "udp" : "tcp";
  if (kind === "name") {
    const host = weighted<string>([
      [50, () => mixedCase(pick(sites))],
      [35, () => `${pick(WORDS)}.${pick(WORDS)}.${pick(zones)}`],
      [5, () => `api.${pick(WORDS)}.${pick(TLDS)}`],
      [10, () => `unknown${int(1e6)}.example.${pick(TLDS)}`],
    ]);
    return { user, host, port, protocol };
  }
  if (kind === "name+address") {
    const [net, prefix] = pick(v4Networks);
    return {
      user,
      host: pick(sites),
      address: random() < 0.7 ? inV4(net, prefix) : randomV4(),
      port,
      protocol,
    };
  }
  const host = weighted<string>([
    [60, () => (random() < 0.7 ? inV4(...pick(v4Networks)) : randomV4())],
    [25, () => pick(v6Networks)[0].replace(/::[0-9a-f]+$/, `::${int(0xffff).toString(16)}`)],
    [15, () => `::ffff:${inV4(...pick(v4Networks))}`],
  ]);
  return { user, host, address: host, port, protocol };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

let sink = 0;
function measure(
  requests: readonly AclRequest[],
  decisions: number,
  acl: ReturnType<typeof compileAcl>,
) {
  const batches = Math.floor(decisions / BATCH);
  const samples = new Float64Array(batches);
  let cursor = 0;
  const started = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      const req = requests[cursor]!;
      cursor = cursor + 1 === requests.length ? 0 : cursor + 1;
      if (evaluate(acl, req).action === "allow") sink++;
    }
    samples[b] = Number(process.hrtime.bigint() - t0) / BATCH / 1000;
  }
  const totalUs = Number(process.hrtime.bigint() - started) / 1000;
  samples.sort();
  return {
    decisions: batches * BATCH,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples[samples.length - 1]!,
    perSecond: (batches * BATCH) / (totalUs / 1e6),
  };
}

const t0 = performance.now();
const sealed = sealSnapshot(draft);
if (!sealed.ok) throw new Error(sealed.error);
const validateMs = performance.now() - t0;
const t1 = performance.now();
const acl = compileAcl(sealed.snapshot);
const compileMs = performance.now() - t1;

const pools: Record<Kind, AclRequest[]> = {
  name: Array.from({ length: 8192 }, () => makeRequest("name")),
  "name+address": Array.from({ length: 8192 }, () => makeRequest("name+address")),
  ip: Array.from({ length: 8192 }, () => makeRequest("ip")),
};
const mixed = Array.from({ length: 16384 }, () =>
  makeRequest(pick<Kind>(["name", "name", "name+address", "ip"])),
);

// Index builds happen on each user's first decision; time them apart from the steady state.
const t2 = performance.now();
for (const user of [...users.map((u) => u.username), "anonymous"]) {
  evaluate(acl, { user, host: "warm.example", port: 443, protocol: "tcp" });
}
const indexMs = (performance.now() - t2) / (USERS + 1);
for (const pool of [...Object.values(pools), mixed]) measure(pool, 200_000, acl); // JIT warm-up

const results: [string, ReturnType<typeof measure>][] = [
  ["mixed (all kinds)", measure(mixed, TOTAL_DECISIONS, acl)],
  ["domain, before DNS", measure(pools.name, TOTAL_DECISIONS / 4, acl)],
  ["domain + resolved address", measure(pools["name+address"], TOTAL_DECISIONS / 4, acl)],
  ["IP literal (v4, v6, v4-mapped)", measure(pools.ip, TOTAL_DECISIONS / 4, acl)],
];

const fmt = (us: number) => us.toFixed(3);
console.log(`### ACL evaluation, ${RULES.toLocaleString("en")} rules\n`);
console.log(
  `${USERS} users in ${GROUPS} groups (1-3 each), ${USERS * RULES_PER_USER} user rules, ` +
    `${RULES - USERS * RULES_PER_USER} group rules; Node ${process.version}. ` +
    `Validate ${validateMs.toFixed(0)} ms, compile ${compileMs.toFixed(1)} ms, ` +
    `index build ${indexMs.toFixed(2)} ms per user (first decision).\n`,
);
console.log("| requests | decisions | p50 (µs) | p99 (µs) | max batch (µs) | decisions/s |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [name, r] of results) {
  console.log(
    `| ${name} | ${r.decisions.toLocaleString("en")} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${Math.round(r.perSecond).toLocaleString("en")} |`,
  );
}
console.log(`\n_p50/p99 over batches of ${BATCH} decisions (per-decision average per batch)._`);
if (sink < 0) console.log(sink);

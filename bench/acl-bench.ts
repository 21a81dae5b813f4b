/**
 * ACL evaluation benchmark: snapshots of 100, 1,000 and 10,000 rules (domains, wildcards, v4/v6
 * CIDRs, port ranges, users in groups), each plain and with country and schedule rules mixed in,
 * and ~1,000,000 decisions per 10,000-rule table (a quarter of that for the smaller ones).
 * Decisions are timed in batches with process.hrtime.bigint (one decision is below the timer's
 * useful resolution); p50/p99 are over the per-decision average of each batch.
 * Run: `tsx bench/acl-bench.ts` (`--quick`: 10,000 rules only, fewer decisions).
 */
import {
  type AclRequest,
  type AclRule,
  compileAcl,
  evaluate,
  type PolicySnapshotInput,
  sealSnapshot,
} from "@edgesocks/policy";

const QUICK = process.argv.includes("--quick");
const RULE_COUNTS = QUICK ? [10_000] : [100, 1_000, 10_000];
const RULES_PER_USER = 10;
const BATCH = 100;
const TOTAL_DECISIONS = QUICK ? 200_000 : 1_000_000;
/** Countries the country rules name, and the share of addresses the lookup places in them. */
const COUNTRIES = ["DE", "FR", "US", "RU", "CN", "BR", "IN", "JP", "GB", "NL"];

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

type Variant = "plain" | "country + schedule";
let users: { username: string; groups: string[] }[] = [];

/**
 * A snapshot of `ruleCount` rules: one user per 25 rules (10 rules each, the rest group rules),
 * one group per 250. The `country + schedule` variant makes one destination in ten a country and
 * gives one rule in ten a weekday office-hours window in a DST zone.
 */
function buildSnapshot(ruleCount: number, variant: Variant): Omit<PolicySnapshotInput, "hash"> {
  const userCount = Math.max(4, Math.floor(ruleCount / 25));
  const groupCount = Math.max(2, Math.floor(ruleCount / 250));
  v4Networks.length = 0;
  v6Networks.length = 0;
  const groups = Array.from({ length: groupCount }, (_, i) => ({ name: `group-${i}` }));
  users = Array.from({ length: userCount }, (_, i) => ({
    username: `user-${i}`,
    groups: [...new Set(Array.from({ length: 1 + int(3) }, () => pick(groups).name))],
  }));
  const conditions = variant !== "plain";
  const rules: AclRule[] = [];
  for (let i = 0; i < ruleCount; i++) {
    const owner =
      i < userCount * RULES_PER_USER
        ? { kind: "user" as const, name: users[i % userCount]!.username }
        : { kind: "group" as const, name: groups[i % groupCount]!.name };
    rules.push({
      id: `r${i}`,
      owner,
      action: random() < 0.25 ? "block" : "allow",
      destinations: Array.from({ length: 1 + int(3) }, () =>
        conditions && random() < 0.1 ? `country:${pick(COUNTRIES)}` : destination(),
      ),
      ports: [portSpec()],
      protocols: [
        weighted<AclRule["protocols"][number]>([
          [60, () => "tcp"],
          [30, () => "both"],
          [10, () => "udp"],
        ]),
      ],
      priority: pick([0, 10, 50, 100, 500, 1000]),
      ...(conditions && random() < 0.1
        ? { schedule: { days: ["mon-fri"], times: ["08:00-18:00"], timezone: "Europe/Berlin" } }
        : {}),
    });
  }
  return {
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
}

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

/**
 * The GeoIP lookup as the relay hands it to evaluate(): here a Map from each address in the
 * pools to a country (a third of them in none), so the figure is the policy's cost, not an
 * MMDB reader's (measured in issue 17: about 2 µs a lookup).
 */
function countryLookup(pools: AclRequest[][]): (ip: string) => string | null {
  const countries = new Map<string, string | null>();
  for (const req of pools.flat()) {
    for (const ip of [req.address, req.host]) {
      if (ip !== undefined && !countries.has(ip)) {
        countries.set(ip, random() < 0.33 ? null : pick(COUNTRIES));
      }
    }
  }
  return (ip) => countries.get(ip) ?? null;
}

interface Row {
  rules: number;
  variant: string;
  requests: string;
  result: ReturnType<typeof measure>;
}

/**
 * A monday 10:00 in Berlin and the saturday after: schedules inside and outside their window.
 * Each is measured apart, as a relay sees time: one clock moving forward, a window edge twice a
 * day. Requests alternating between the two would recompute every schedule's next edge on every
 * decision, a cost a relay pays once per edge (timed as "first pass after an edge").
 */
const CLOCKS = [
  { name: "in window", at: Date.parse("2030-03-11T09:00:00Z") },
  { name: "out of window", at: Date.parse("2030-03-16T09:00:00Z") },
];

function runCase(ruleCount: number, variant: Variant): { rows: Row[]; setup: string } {
  const t0 = performance.now();
  const sealed = sealSnapshot(buildSnapshot(ruleCount, variant));
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
  const all = [...Object.values(pools).flat(), ...mixed];
  const setClock = (at: number) => {
    for (const req of all) req.now = at;
  };
  if (variant !== "plain") {
    const countryOf = countryLookup([...Object.values(pools), mixed]);
    for (const req of all) req.countryOf = countryOf;
    setClock(CLOCKS[0]!.at);
  }

  // Index builds happen on each user's first decision; time them apart from the steady state.
  const t2 = performance.now();
  for (const user of [...users.map((u) => u.username), "anonymous"]) {
    evaluate(acl, { user, host: "warm.example", port: 443, protocol: "tcp" });
  }
  const indexMs = (performance.now() - t2) / (users.length + 1);
  const warm = Math.min(200_000, TOTAL_DECISIONS / 5);
  for (const pool of [...Object.values(pools), mixed]) measure(pool, warm, acl); // JIT warm-up

  const decisions = ruleCount === 10_000 ? TOTAL_DECISIONS : TOTAL_DECISIONS / 4;
  const rows: Row[] = [];
  let edgeMs = 0;
  for (const [i, clock] of (variant === "plain" ? [null] : CLOCKS).entries()) {
    if (clock !== null && i > 0) {
      setClock(clock.at);
      const t3 = performance.now();
      for (const req of mixed) if (evaluate(acl, req).action === "allow") sink++;
      edgeMs = performance.now() - t3;
    }
    const label = clock === null ? variant : `${variant}, ${clock.name}`;
    const row = (requests: string, result: ReturnType<typeof measure>): Row => ({
      rules: ruleCount,
      variant: label,
      requests,
      result,
    });
    rows.push(row("mixed (all kinds)", measure(mixed, decisions, acl)));
    if (ruleCount === 10_000) {
      rows.push(
        row("domain, before DNS", measure(pools.name, decisions / 4, acl)),
        row("domain + resolved address", measure(pools["name+address"], decisions / 4, acl)),
        row("IP literal (v4, v6, v4-mapped)", measure(pools.ip, decisions / 4, acl)),
      );
    }
  }
  const setup =
    `${ruleCount.toLocaleString("en")} rules, ${variant}: ${users.length} users, ` +
    `validate ${validateMs.toFixed(0)} ms, compile ${compileMs.toFixed(1)} ms, ` +
    `index build ${indexMs.toFixed(2)} ms per user (first decision)` +
    (variant === "plain"
      ? ""
      : `, first pass after a window edge ${edgeMs.toFixed(1)} ms for ${mixed.length.toLocaleString("en")} decisions`);
  return { rows, setup };
}

const rows: Row[] = [];
const setups: string[] = [];
for (const ruleCount of RULE_COUNTS) {
  for (const variant of ["plain", "country + schedule"] as const) {
    const result = runCase(ruleCount, variant);
    rows.push(...result.rows);
    setups.push(result.setup);
  }
}

const fmt = (us: number) => us.toFixed(3);
console.log(
  `### ACL evaluation, ${RULE_COUNTS.map((n) => n.toLocaleString("en")).join(" / ")} rules\n`,
);
console.log(
  `Target: p99 < 5 µs at 10,000 rules. Node ${process.version}. ` +
    "Country rules: one destination in ten; schedules: one rule in ten (mon-fri 08:00-18:00 " +
    "Europe/Berlin), requests at times inside and outside the window.\n",
);
console.log(
  "| rules | rule kinds | requests | decisions | p50 (µs) | p99 (µs) | max batch (µs) | decisions/s |",
);
console.log("|---:|---|---|---:|---:|---:|---:|---:|");
for (const { rules, variant, requests, result: r } of rows) {
  console.log(
    `| ${rules.toLocaleString("en")} | ${variant} | ${requests} | ${r.decisions.toLocaleString("en")} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${Math.round(r.perSecond).toLocaleString("en")} |`,
  );
}
console.log(`\n_p50/p99 over batches of ${BATCH} decisions (per-decision average per batch)._\n`);
for (const setup of setups) console.log(`- ${setup}`);
if (sink < 0) console.log(sink);

/**
 * QoS and abuse-protection load test (issue 4). Starts a real relay process and shows:
 *
 * 1. bandwidth: a user capped at CAP_MBPS is held to it while an uncapped user on the same relay
 *    keeps the speed it has alone;
 * 2. slow-loris: 5,000 idle sockets (held, then reconnecting as the relay drops them) leave the
 *    relay serving normal clients.
 *
 * Three processes so no one's event loop skews another's numbers: the relay, a target process
 * (a bulk source and an echo server), and a flood process; this one runs the normal clients.
 * Run: `tsx bench/qos-bench.ts` (it raises its own `ulimit -n`; needs ~12,000 descriptors).
 * Numbers are printed, never asserted (DESIGN.md: no wall-clock thresholds in tests).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SocksClient } from "socks";

const SCRIPT = fileURLToPath(import.meta.url);
const RELAY_BIN = resolve(SCRIPT, "../../apps/relay/bin/edgesocks-relay.mjs");
const CAP_MBPS = 10;
const FLOOD_SOCKETS = 5000;
const MAX_PENDING = 1000;
/** Source addresses the flood comes from (127.0.x.y): 25 sockets each, under the per-client cap. */
const FLOOD_ADDRESSES = 200;
const NEEDED_FDS = 12_000;
const BLOCK = Buffer.alloc(64 * 1024, 0x61);

// ---- child processes -------------------------------------------------------

/** A bulk source (writes as fast as each connection takes) and an echo server. */
function runTarget(): void {
  const source = createServer((socket) => {
    socket.on("error", () => {});
    const pump = () => {
      while (!socket.destroyed && socket.write(BLOCK));
    };
    socket.on("drain", pump);
    socket.resume();
    pump();
  });
  const echo = createServer((socket) => {
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  source.listen(0, "127.0.0.1", () =>
    echo.listen(0, "127.0.0.1", () => {
      const port = (s: typeof source) => (s.address() as AddressInfo).port;
      process.stdout.write(`${JSON.stringify({ source: port(source), echo: port(echo) })}\n`);
    }),
  );
}

/**
 * Keeps `count` idle sockets open to the relay from FLOOD_ADDRESSES source addresses (a
 * distributed flood); half send one byte of a SOCKS5 greeting, a quarter a whole greeting, then
 * nothing. After "reconnect" (a line on stdin) every socket the relay drops is replaced at once,
 * so the relay faces a constant 5,000. "stats" prints its counts.
 */
function runFlood(relayPort: number, count: number): void {
  const live = new Set<Socket>();
  let opened = 0;
  let dropped = 0;
  let reconnect = false;
  let next = 0;
  const openOne = () => {
    const i = next++;
    const socket = connect({
      host: "127.0.0.1",
      port: relayPort,
      localAddress: `127.0.${1 + Math.floor((i % FLOOD_ADDRESSES) / 200)}.${2 + ((i % FLOOD_ADDRESSES) % 200)}`,
    });
    live.add(socket);
    socket.on("connect", () => {
      opened += 1;
      if (i % 2 === 0) socket.write(Buffer.from([5]));
      else if (i % 4 === 1) socket.write(Buffer.from([5, 1, 0]));
    });
    socket.on("error", () => {});
    // Read (and drop) whatever comes, so a close by the relay is noticed.
    socket.resume();
    socket.on("close", () => {
      live.delete(socket);
      dropped += 1;
      if (reconnect && live.size < count) setImmediate(openOne);
    });
  };
  // Opened in batches, so the listen backlog is not what gets measured: `count` sockets at
  // first, then (reconnecting) as many as it takes to have `count` open.
  const wanted = () => (reconnect ? count - live.size : count - next);
  const topUp = () => {
    for (let n = 0; n < 250 && wanted() > 0; n++) openOne();
    if (wanted() > 0) setTimeout(topUp, 5);
  };
  topUp();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    for (const line of text.split("\n")) {
      if (line === "reconnect") {
        reconnect = true;
        topUp();
      }
      if (line === "stats") {
        process.stdout.write(`${JSON.stringify({ live: live.size, opened, dropped })}\n`);
      }
    }
  });
}

// ---- the bench -------------------------------------------------------------

interface Child {
  process: ChildProcess;
  lines: AsyncIterator<string>;
  stop(): void;
}

function start(command: string, args: string[], options: { stdin?: boolean } = {}): Child {
  const child = spawn(command, args, {
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "inherit"],
  });
  child.stdout!.setEncoding("utf8");
  const lines = (async function* () {
    let buffered = "";
    for await (const chunk of child.stdout!) {
      buffered += chunk;
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        yield buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
    }
  })();
  return {
    process: child,
    lines,
    stop: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

const startTs = (mode: string, ...args: string[]) =>
  start(process.execPath, [...process.execArgv, SCRIPT, mode, ...args], { stdin: true });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await sleep(100);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

async function socks(relayPort: number, user: string, port: number): Promise<Socket> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: "127.0.0.1", port: relayPort, type: 5, userId: user, password: user },
    command: "connect",
    destination: { host: "127.0.0.1", port },
    timeout: 10_000,
  });
  socket.on("error", () => {});
  return socket;
}

/** Downloads on every socket for `ms` after a warm-up; returns MB/s per socket group. */
async function downloadRates(groups: Socket[][], ms: number): Promise<number[]> {
  const bytes = groups.map(() => 0);
  let counting = false;
  groups.forEach((sockets, g) => {
    for (const socket of sockets) {
      socket.on("data", (chunk: Buffer) => {
        if (counting) bytes[g]! += chunk.length;
      });
      socket.resume();
    }
  });
  await sleep(500);
  counting = true;
  const started = performance.now();
  await sleep(ms);
  counting = false;
  const elapsed = performance.now() - started;
  for (const socket of groups.flat()) socket.destroy();
  return bytes.map((b) => b / elapsed / 1000);
}

/** Sequential SOCKS5 auth + CONNECT + echo round trips; latencies in ms (failures as NaN). */
async function normalClients(relayPort: number, echoPort: number, count: number) {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    try {
      const socket = await socks(relayPort, "free", echoPort);
      await new Promise<void>((resolve, reject) => {
        socket.once("data", () => resolve());
        socket.once("close", () => reject(new Error("closed")));
        socket.write("ping");
      });
      socket.destroy();
      latencies.push(performance.now() - started);
    } catch {
      latencies.push(Number.NaN);
    }
  }
  const ok = latencies.filter((l) => !Number.isNaN(l)).sort((a, b) => a - b);
  const pct = (p: number) => ok[Math.min(ok.length - 1, Math.floor((p / 100) * ok.length))] ?? NaN;
  return { ok: ok.length, total: count, p50: pct(50), p99: pct(99), max: ok.at(-1) ?? NaN };
}

async function scrape(opsPort: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    if (line.startsWith("#") || !line.startsWith("edgesocks_")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

const heapMb = (m: Map<string, number>) =>
  (m.get("edgesocks_nodejs_heap_size_used_bytes") ?? 0) / 1e6;

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

async function main(): Promise<void> {
  if (openFileLimit() < NEEDED_FDS && mode !== "--raised") {
    // Node cannot raise its own limit: re-run under a shell that does (children inherit it).
    const child = spawn(
      "/bin/sh",
      [
        "-c",
        'ulimit -n 20000 && exec "$0" "$@"',
        process.execPath,
        ...process.execArgv,
        SCRIPT,
        "--raised",
      ],
      { stdio: "inherit" },
    );
    child.on("exit", (code) => process.exit(code ?? 1));
    return;
  }
  console.log(`open files limit: ${openFileLimit()}`);
  const dir = mkdtempSync(join(tmpdir(), "qos-bench-"));
  const children: Child[] = [];
  const stopAll = () => {
    for (const c of children) c.stop();
  };
  process.on("exit", stopAll);
  try {
    const target = startTs("--target");
    children.push(target);
    const ports = JSON.parse((await target.lines.next()).value as string) as {
      source: number;
      echo: number;
    };
    const relayPort = await freePort();
    const opsPort = await freePort();
    const configPath = join(dir, "relay.toml");
    writeFileSync(
      configPath,
      `[server]
bind_address = "127.0.0.1"
bind_port = ${relayPort}
max_connections = 20000
max_pending_handshakes = ${MAX_PENDING}
handshake_timeout_ms = 10000

[auth]
socks_method = "userpass"
[[auth.users]]
username = "capped"
password = "capped"
bandwidth_bytes_per_sec = ${CAP_MBPS * 1_000_000}
[[auth.users]]
username = "free"
password = "free"

[qos]
enabled = true

[ops]
bind = "127.0.0.1:${opsPort}"

[logging]
level = "error"
`,
    );
    const asRoot = process.getuid?.() === 0 ? ["--allow-root"] : [];
    const relay = start(process.execPath, [RELAY_BIN, "--config", configPath, ...asRoot]);
    children.push(relay);
    await waitForPort(relayPort);
    await waitForPort(opsPort);
    const relayPid = relay.process.pid!;
    console.log(`relay pid ${relayPid} on 127.0.0.1:${relayPort}, ops ${opsPort}\n`);

    // ---- 1. bandwidth ----
    const FREE_CONNECTIONS = 4;
    const CAPPED_CONNECTIONS = 4;
    const openMany = (user: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => socks(relayPort, user, ports.source)));
    console.log(`## Bandwidth (download, ${FREE_CONNECTIONS} connections per user, 4 s windows)`);
    // Alternating rounds, medians reported: other work on the machine comes and goes.
    const rounds: {
      freeAlone: number;
      cappedAlone: number;
      cappedShared: number;
      freeShared: number;
    }[] = [];
    for (let round = 0; round < 3; round++) {
      const [freeAlone] = await downloadRates([await openMany("free", FREE_CONNECTIONS)], 4000);
      const [cappedAlone] = await downloadRates(
        [await openMany("capped", CAPPED_CONNECTIONS)],
        4000,
      );
      const [cappedShared, freeShared] = await downloadRates(
        [await openMany("capped", CAPPED_CONNECTIONS), await openMany("free", FREE_CONNECTIONS)],
        4000,
      );
      rounds.push({
        freeAlone: freeAlone!,
        cappedAlone: cappedAlone!,
        cappedShared: cappedShared!,
        freeShared: freeShared!,
      });
    }
    const median = (key: keyof (typeof rounds)[number]) =>
      rounds.map((r) => r[key]).sort((a, b) => a - b)[1]!;
    const each = (key: keyof (typeof rounds)[number], digits: number) =>
      rounds.map((r) => fmt(r[key], digits)).join(", ");
    const freeAlone = median("freeAlone");
    console.log(
      `| phase (median of 3; each round) | capped user (cap ${CAP_MBPS} MB/s) | uncapped user |`,
    );
    console.log("|---|---|---|");
    console.log(`| uncapped alone | - | ${fmt(freeAlone)} MB/s (${each("freeAlone", 0)}) |`);
    console.log(
      `| capped alone | ${fmt(median("cappedAlone"), 2)} MB/s (${each("cappedAlone", 2)}) | - |`,
    );
    console.log(
      `| both at once | ${fmt(median("cappedShared"), 2)} MB/s (${each("cappedShared", 2)}) | ${fmt(median("freeShared"))} MB/s (${each("freeShared", 0)}) |`,
    );
    console.log(
      `uncapped speed kept: ${fmt((median("freeShared") / freeAlone) * 100)}% of its solo speed; capped user at ${fmt((median("cappedShared") / CAP_MBPS) * 100)}% of its cap\n`,
    );

    // ---- 2. slow-loris ----
    console.log(
      `## Slow-loris (${FLOOD_SOCKETS} idle sockets, max_pending_handshakes = ${MAX_PENDING})`,
    );
    const baseline = await normalClients(relayPort, ports.echo, 200);
    const baselineRss = rssMb(relayPid);
    const baselineHeap = heapMb(await scrape(opsPort));
    const flood = startTs("--flood", String(relayPort), String(FLOOD_SOCKETS));
    children.push(flood);
    flood.process.stdin!.on("error", () => {});
    let lastStats = { live: 0, opened: 0, dropped: 0 };
    const floodStats = async () => {
      if (flood.process.exitCode !== null || flood.process.signalCode !== null) {
        return { ...lastStats, live: 0 };
      }
      flood.process.stdin!.write("stats\n");
      lastStats = JSON.parse((await flood.lines.next()).value as string) as typeof lastStats;
      return lastStats;
    };
    for (let i = 0; i < 100; i++) {
      if ((await floodStats()).opened >= FLOOD_SOCKETS) break;
      await sleep(100);
    }
    await sleep(500);
    const phase = async (label: string) => {
      const before = await floodStats();
      const started = performance.now();
      const clients = await normalClients(relayPort, ports.echo, 200);
      const [bulk] = await downloadRates([await openMany("free", FREE_CONNECTIONS)], 3000);
      const after = await floodStats();
      const metrics = await scrape(opsPort);
      const seconds = (performance.now() - started) / 1000;
      return { label, clients, bulk: bulk!, before, after, seconds, metrics, rss: rssMb(relayPid) };
    };
    const held = await phase(`${FLOOD_SOCKETS} opened once, survivors held`);
    flood.process.stdin!.write("reconnect\n");
    await sleep(1000);
    const churn = await phase(`constant ${FLOOD_SOCKETS} (every dropped socket replaced)`);
    flood.stop();
    await new Promise((r) => flood.process.once("exit", r));
    await sleep(3000);
    const after = await phase("flood over (3 s later)");

    const metric = (m: Map<string, number>, name: string) => m.get(name) ?? 0;
    console.log(
      "| phase | normal clients ok | auth+CONNECT+echo p50 / p99 / max (ms) | bulk download (uncapped) | flood sockets open | new flood sockets/s | relay: connections / pending handshakes / evicted so far / heap used / RSS |",
    );
    console.log("|---|---|---|---|---|---|---|");
    console.log(
      `| no flood | ${baseline.ok}/${baseline.total} | ${fmt(baseline.p50, 2)} / ${fmt(baseline.p99, 2)} / ${fmt(baseline.max, 2)} | ${fmt(freeAlone)} MB/s | 0 | 0 | - / - / 0 / ${fmt(baselineHeap)} MB / ${fmt(baselineRss)} MB |`,
    );
    for (const p of [held, churn, after]) {
      const m = p.metrics;
      console.log(
        `| ${p.label} | ${p.clients.ok}/${p.clients.total} | ${fmt(p.clients.p50, 2)} / ${fmt(p.clients.p99, 2)} / ${fmt(p.clients.max, 2)} | ${fmt(p.bulk)} MB/s | ${p.after.live} | ${fmt((p.after.opened - p.before.opened) / p.seconds, 0)} | ${metric(m, "edgesocks_relay_connections_active")} / ${metric(m, "edgesocks_relay_handshakes_pending")} / ${metric(m, 'edgesocks_relay_rejected_total{reason="handshake_evicted"}')} / ${fmt(heapMb(m))} MB / ${fmt(p.rss)} MB |`,
      );
    }
    const totals = (m: Map<string, number>) => {
      const reasons = [...m]
        .filter(([name]) => name.startsWith("edgesocks_relay_rejected_total"))
        .map(([name, value]) => `${/reason="([^"]+)"/.exec(name)?.[1]} ${value}`)
        .join(", ");
      return `${metric(m, "edgesocks_relay_connections_total")} connections accepted; rejected: ${reasons}`;
    };
    console.log(`\nrelay after the held phase: ${totals(held.metrics)}`);
    console.log(`relay at the end: ${totals(after.metrics)}`);
  } finally {
    stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const mode = process.argv[2];
if (mode === "--target") runTarget();
else if (mode === "--flood") runFlood(Number(process.argv[3]), Number(process.argv[4]));
else await main();

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "@edgesocks/telemetry";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { startRelay } from "../src/relay";
import type { SessionRecord } from "../src/session/record";
import { ShardHub } from "../src/shard/shard-hub";
import { RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startEchoTarget, startHttpTarget } from "../src/test-support/targets";
import { download, rate, socks5Connect, startSourceTarget } from "../src/test-support/traffic";

const BIN = resolve(import.meta.dirname, "../bin/edgesocks-relay.mjs");
const REFUSED_NOT_ALLOWED = [5, 2, 0, 1, 0, 0, 0, 0, 0, 0];
const MB = 1_000_000;

interface RelayProcess {
  port: number;
  opsPort: number;
  dir: string;
  child: ChildProcess;
  get(path: string): Promise<string>;
  sessions(): Promise<{ shard: number; user: string }[]>;
  [Symbol.asyncDispose](): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** The real binary with `--workers 2` (and a state dir, so records reach the spool). */
async function startWorkersRelay(toml: string, acl?: string): Promise<RelayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-workers-"));
  writeFileSync(join(dir, "relay.toml"), toml);
  if (acl !== undefined) writeFileSync(join(dir, "acl.toml"), acl);
  const [port, opsPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      BIN,
      ...["--config", join(dir, "relay.toml"), "--state-dir", join(dir, "state")],
      ...["--port", String(port), "--ops-bind", `127.0.0.1:${opsPort}`, "--workers", "2"],
      ...["--log-level", "info", "--allow-root"],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${opsPort}${path}`);
    return response.text();
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${opsPort}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`relay did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    opsPort,
    dir,
    child,
    get,
    sessions: async () => JSON.parse(await get("/sessions/active")),
    [Symbol.asyncDispose]: async () => {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : Number.NaN;
}

const USERS = `
[auth]
socks_method = "userpass"
[[auth.users]]
username = "alice"
password = "alice"
max_connections = 3
[[auth.users]]
username = "bob"
password = "bob"
`;

describe("a relay with two worker threads (--workers 2)", () => {
  it("serves from both threads, keeps per-user limits across them, and exports one set of metrics", async () => {
    await using target = await startEchoTarget();
    await using relay = await startWorkersRelay(USERS);
    const bobs = await Promise.all(
      Array.from({ length: 16 }, () => socks5Connect(relay.port, "127.0.0.1", target.port, "bob")),
    );
    expect(bobs.map((b) => b.reply[1])).toEqual(Array(16).fill(0));
    const shards = new Set((await relay.sessions()).map((s) => s.shard));
    expect([...shards].sort()).toEqual([0, 1]);

    // alice may hold 3 sessions in all, whichever thread accepts them.
    const alices = await Promise.all(
      Array.from({ length: 8 }, () => socks5Connect(relay.port, "127.0.0.1", target.port, "alice")),
    );
    const admitted = alices.filter((a) => a.reply[1] === 0);
    expect(admitted).toHaveLength(3);
    for (const refused of alices.filter((a) => a.reply[1] !== 0)) {
      expect(refused.reply).toEqual(REFUSED_NOT_ALLOWED);
    }
    const metrics = await relay.get("/metrics");
    expect(metric(metrics, 'edgesocks_relay_sessions_active{command="connect"}')).toBe(16 + 3);
    expect(metric(metrics, "edgesocks_relay_policy_version")).toBe(1);
    expect(metrics).toMatch(/edgesocks_relay_rejected_total\{reason="connection_limit_user"\} 5\n/);
    // One process: its process metrics appear once.
    expect(metrics.match(/^edgesocks_process_start_time_seconds /gm)).toHaveLength(1);

    for (const a of alices) a.client.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const again = await Promise.all(
      Array.from({ length: 3 }, () => socks5Connect(relay.port, "127.0.0.1", target.port, "alice")),
    );
    expect(again.map((a) => a.reply[1])).toEqual([0, 0, 0]);
    for (const c of [...bobs, ...again]) c.client.destroy();
  });

  it("keeps server.max_connections across both threads", async () => {
    await using relay = await startWorkersRelay(`[server]\nmax_connections = 6\n`);
    const clients = await Promise.all(Array.from({ length: 12 }, () => RawClient.open(relay.port)));
    for (const c of clients) c.write([5, 1, 0]);
    const answers = await Promise.all(
      clients.map((c) =>
        c.read(2).then(
          (bytes) => (bytes.length === 0 ? "closed" : [...bytes].join()),
          () => "closed",
        ),
      ),
    );
    expect(answers.filter((a) => a === "5,0")).toHaveLength(6);
    expect(answers.filter((a) => a === "closed")).toHaveLength(6);
    for (const c of clients) c.socket.destroy();
  });

  it("splits a capped user's rate between the threads: 4 downloads at 1 MB/s in all", async () => {
    await using source = await startSourceTarget();
    await using relay = await startWorkersRelay(
      `${USERS.replace("max_connections = 3", "bandwidth_bytes_per_sec = 1000000")}\n[qos]\nenabled = true\n`,
    );
    // The kernel picks the thread per connection: open sessions until both threads have some.
    const sessions: Awaited<ReturnType<typeof socks5Connect>>[] = [];
    let shards = new Set<number>();
    while (sessions.length < 4 || (shards.size < 2 && sessions.length < 32)) {
      const session = await socks5Connect(relay.port, "127.0.0.1", source.port, "alice");
      expect(session.reply[1]).toBe(0);
      session.client.socket.pause();
      sessions.push(session);
      shards = new Set((await relay.sessions()).map((s) => s.shard));
    }
    expect(shards.size).toBe(2);
    const started = performance.now();
    const bytes = await Promise.all(sessions.map((s) => download(s.client.socket, 3000)));
    const total = rate(
      bytes.reduce((a, b) => a + b, 0),
      performance.now() - started,
    );
    expect(total / MB).toBeGreaterThan(0.7);
    expect(total / MB).toBeLessThan(1.3);
  });

  it("applies a SIGHUP'd ACL in every thread and spools every thread's records", async () => {
    await using target = await startHttpTarget("through both threads");
    const allow = `[global]\ndefault_policy = "allow"\n`;
    await using relay = await startWorkersRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n`,
      allow,
    );
    const proxy = `127.0.0.1:${relay.port}`;
    const url = `http://127.0.0.1:${target.port}/`;
    const before = await Promise.all(
      Array.from({ length: 12 }, () => curlVia("--socks5", proxy, url)),
    );
    expect(before.map((r) => r.stdout)).toEqual(Array(12).fill("through both threads"));

    writeFileSync(join(relay.dir, "acl.toml"), `[global]\ndefault_policy = "block"\n`);
    relay.child.kill("SIGHUP");
    await new Promise((r) => setTimeout(r, 500));
    const after = await Promise.all(
      Array.from({ length: 12 }, () => curlVia("--socks5", proxy, url)),
    );
    expect(after.filter((r) => r.code === 0)).toHaveLength(0);

    await new Promise((r) => setTimeout(r, 300));
    const spool = join(relay.dir, "state", "spool");
    const records = readdirSync(spool)
      .flatMap((f) => readFileSync(join(spool, f), "utf8").split("\n"))
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as { status: string });
    expect(records.filter((r) => r.status === "closed")).toHaveLength(12);
    expect(records.filter((r) => r.status === "rejected")).toHaveLength(12);
  });

  it("folds rejected-before-request records of every thread into one per reason and client", async () => {
    const { config } = parseConfigText(`[server]\nbind_address = "127.0.0.1"\nbind_port = 0\n`);
    const logger = createLogger({ level: "silent" });
    const node = { name: "n1", region: "test" };
    const hub = new ShardHub({ threads: 2, config, baseDir: process.cwd(), node, logger });
    const records: SessionRecord[] = [];
    let opened = 0;
    const relay = await startRelay({
      config,
      baseDir: process.cwd(),
      logger,
      node,
      shared: hub.shared,
      peers: hub,
      onRecord: (record) => records.push(record),
    });
    try {
      await hub.start(relay);
      const port = relay.socksAddress().port;
      // Connections waiting in the greeting until both threads serve some of them.
      const clients: Socket[] = [];
      const shards = async () => new Set((await relay.activeSessions()).map((s) => s.shard));
      while (clients.length < 64 && (clients.length < 8 || (await shards()).size < 2)) {
        const client = connect(port, "127.0.0.1");
        client.on("error", () => {});
        await new Promise((r) => client.once("connect", r));
        clients.push(client);
        while ((await relay.activeSessions()).length < clients.length)
          await new Promise((r) => setTimeout(r, 5));
      }
      expect(await shards()).toEqual(new Set([0, 1]));
      opened = clients.length;
      for (const client of clients) client.write(Buffer.from([0x47]));
      const deadline = Date.now() + 5000;
      while ((await relay.activeSessions()).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      for (const client of clients) client.destroy();
    } finally {
      await relay.close(0);
    }
    const refused = records.filter((r) => r.closeReason.includes("SOCKS_E_BAD_VERSION"));
    // The first at once, the rest of the minute in one folded record: not one pair per thread.
    expect(refused).toHaveLength(2);
    expect(refused[0]!.count).toBeUndefined();
    expect(refused[1]!.count).toBe(opened - 1);
  });

  it("terminates a session running in another thread and ships its record from the main thread", async () => {
    await using target = await startEchoTarget();
    const { config } = parseConfigText(`[server]\nbind_address = "127.0.0.1"\nbind_port = 0\n`);
    const logger = createLogger({ level: "silent" });
    const node = { name: "n1", region: "test" };
    const hub = new ShardHub({ threads: 2, config, baseDir: process.cwd(), node, logger });
    const records: SessionRecord[] = [];
    const relay = await startRelay({
      config,
      baseDir: process.cwd(),
      logger,
      node,
      shared: hub.shared,
      peers: hub,
      onRecord: (record) => records.push(record),
    });
    try {
      await hub.start(relay);
      const port = relay.socksAddress().port;
      const opened: Awaited<ReturnType<typeof socks5Connect>>[] = [];
      let remote: { id: string } | undefined;
      while (!remote && opened.length < 32) {
        opened.push(await socks5Connect(port, "127.0.0.1", target.port));
        remote = (await relay.activeSessions()).find((s) => s.shard === 1);
      }
      expect(remote).toBeDefined();
      expect(relay.terminate(remote!.id, "terminated by test")).toBe(false);
      const deadline = Date.now() + 5000;
      while (!records.some((r) => r.id === remote!.id) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(records.find((r) => r.id === remote!.id)?.closeReason).toBe("terminated by test");
      expect(relay.totals.sessionsTotal).toBe(1);
      for (const c of opened) c.client.destroy();
    } finally {
      await relay.close(0);
    }
  });
});

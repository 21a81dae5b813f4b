import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RawClient } from "../src/test-support/raw-client";
import {
  eventually,
  freePort,
  spooledRecords,
  startRelayProcess,
} from "../src/test-support/relay-process";
import { startEchoTarget } from "../src/test-support/targets";
import { socks5Connect } from "../src/test-support/traffic";

const dirs: string[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync("umount", ["-l", m]);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function workDir(toml = ""): { dir: string; config: string; state: string } {
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-record-path-"));
  dirs.push(dir);
  writeFileSync(join(dir, "relay.toml"), toml);
  return { dir, config: join(dir, "relay.toml"), state: join(dir, "state") };
}

async function echo(client: RawClient, text: string): Promise<void> {
  client.write(text);
  expect((await client.read(text.length)).toString()).toBe(text);
}

describe("the record path of the real relay binary", () => {
  it("records the sessions a SIGKILLed relay had open as interrupted, with their bytes, on restart", async () => {
    await using target = await startEchoTarget();
    // Two threads: the sessions of both are checkpointed by the main one.
    const { config, state } = workDir("[server]\nworkers = 2\n");
    const first = await startRelayProcess({ configPath: config, stateDir: state });
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const { client, reply } = await socks5Connect(first.port, "127.0.0.1", target.port);
      expect(reply[1]).toBe(0);
      await echo(client, `hello ${i}`);
      clients.push(client);
    }
    // Past one checkpoint (2 s), then the kill.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await first.kill("SIGKILL")).toBe("SIGKILL");
    for (const c of clients) c.socket.destroy();
    expect(spooledRecords(join(state, "spool")).filter((r) => r.command === "connect")).toEqual([]);

    await using second = await startRelayProcess({ configPath: config, stateDir: state });
    // Nothing ships in standalone mode: the backlog gauge still tells the truth.
    const backlog = /^edgesocks_relay_spool_backlog_bytes (\d+)$/m.exec(
      (await second.ops("/metrics")).body,
    );
    expect(Number(backlog?.[1])).toBeGreaterThan(0);
    await second.kill("SIGTERM");
    const interrupted = spooledRecords(join(state, "spool")).filter((r) => r.command === "connect");
    expect(interrupted).toHaveLength(6);
    for (const record of interrupted) {
      expect(record).toMatchObject({ status: "failed", closeReason: "interrupted" });
      expect(record.bytesUp).toBe("hello 0".length);
      expect(record.bytesDown).toBe("hello 0".length);
    }
  }, 30_000);

  it("folds connections refused before a request into one record per reason and client, with a count", async () => {
    await using target = await startEchoTarget();
    const { config, state } = workDir(
      "[server]\nmax_connections = 1\nhandshake_timeout_ms = 300\n",
    );
    await using relay = await startRelayProcess({ configPath: config, stateDir: state });
    const holder = await socks5Connect(relay.port, "127.0.0.1", target.port);
    expect(holder.reply[1]).toBe(0);
    // Over max_connections: closed at accept, before a byte is read.
    for (let i = 0; i < 5; i++) await (await RawClient.open(relay.port)).closed();
    holder.client.socket.destroy();
    // Handshakes that never send a byte time out (one at a time: the one slot).
    const slotFree = () =>
      eventually("the one connection slot to be free", async () =>
        /^edgesocks_relay_connections_active 0$/m.test((await relay.ops("/metrics")).body)
          ? true
          : undefined,
      );
    for (let i = 0; i < 3; i++) {
      await slotFree();
      await (await RawClient.open(relay.port)).closed();
    }
    await relay.kill("SIGTERM");
    const rejected = spooledRecords(join(state, "spool")).filter((r) => r.status === "rejected");
    // Per reason and client: the first record at once, the rest of the minute in one with a count.
    const summary = rejected.map((r) => [r.closeReason, r.clientAddress, r.count ?? 1]);
    expect(summary).toEqual([
      ["max_connections", "127.0.0.1", 1],
      ["handshake_timeout", "127.0.0.1", 1],
      ["max_connections", "127.0.0.1", 4],
      ["handshake_timeout", "127.0.0.1", 2],
    ]);
  }, 30_000);

  it("records connections refused in fleet mode before the first snapshot (no_policy)", async () => {
    const { config, state } = workDir();
    // A control plane that is not there: the relay never gets a policy.
    const closed = await freePort();
    await using relay = await startRelayProcess({
      configPath: config,
      stateDir: state,
      fleet: { controlUrl: `ws://127.0.0.1:${closed}/trpc`, nodeToken: `esn_${"x".repeat(40)}` },
    });
    for (let i = 0; i < 3; i++) await (await RawClient.open(relay.port)).closed();
    await relay.kill("SIGTERM");
    const rejected = spooledRecords(join(state, "spool")).map((r) => [
      r.status,
      r.closeReason,
      r.count ?? 1,
    ]);
    expect(rejected).toEqual([
      ["rejected", "no_policy", 1],
      ["rejected", "no_policy", 2],
    ]);
  }, 30_000);

  it("keeps relaying on a full state dir, says so in /health and metrics, and spools it all once there is room", async () => {
    await using target = await startEchoTarget();
    const { config, state } = workDir();
    mkdirSync(state);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", state]);
    mounts.push(state);
    await using relay = await startRelayProcess({ configPath: config, stateDir: state });
    const session = async (text: string) => {
      const { client, reply } = await socks5Connect(relay.port, "127.0.0.1", target.port);
      expect(reply[1]).toBe(0);
      await echo(client, text);
      client.socket.destroy();
    };
    await session("before");
    const filler = join(state, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(512 * 1024));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    }
    for (let i = 0; i < 5; i++) await session(`while full ${i}`);
    const health = await eventually("/health to report the full spool", async () => {
      const body = JSON.parse((await relay.ops("/health")).body);
      return body.status === "degraded" ? body : undefined;
    });
    expect(health.spool).toMatchObject({ writable: false, error: expect.stringMatching(/ENOSPC/) });
    const metrics = (await relay.ops("/metrics")).body;
    expect(metrics).toMatch(/^edgesocks_relay_spool_writable 0$/m);
    expect(metrics).toMatch(/^edgesocks_relay_spool_write_errors_total [1-9]/m);
    expect(relay.child.exitCode).toBeNull();

    rmSync(filler);
    await eventually("/health to be ok again", async () =>
      JSON.parse((await relay.ops("/health")).body).status === "ok" ? true : undefined,
    );
    // Whole lines only (a torn one would not parse), every session in order.
    const records = spooledRecords(join(state, "spool")).filter((r) => r.command === "connect");
    expect(records.map((r) => r.bytesUp)).toEqual([6, 12, 12, 12, 12, 12]);
  }, 30_000);
});

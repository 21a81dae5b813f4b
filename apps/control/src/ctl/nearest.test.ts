import { readFileSync, statSync } from "node:fs";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DelayForwarder, startDelayForwarder } from "../../../../e2e/support/delay-forwarder";
import { startTestControl, type TestControl } from "../test-support/control";
import { ctlFor, registerRelay } from "../test-support/ctl";
import type { Probe } from "./probe";

/** A stand-in relay: answers a SOCKS5 greeting with "no auth" (05 00), or "login required" (05 ff). */
async function startGreeter(method: number): Promise<Server & { port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("data", () => socket.write(Buffer.from([0x05, method])));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = server.close.bind(server);
  return Object.assign(server, {
    port: (server.address() as AddressInfo).port,
    close: (callback?: (error?: Error) => void) => {
      for (const s of sockets) s.destroy();
      return close(callback);
    },
  });
}

let control: TestControl;
let ctl: ReturnType<typeof ctlFor>;
const forwarders = new Map<string, DelayForwarder>();
const greeters: Server[] = [];

beforeAll(async () => {
  control = await startTestControl();
  ctl = ctlFor(control);
  const open = await startGreeter(0x00);
  const locked = await startGreeter(0xff);
  greeters.push(open, locked);
  // Registered far first, so the order the API lists them in is not the answer.
  for (const [name, region, delayMs, greeter] of [
    ["relay-far", "ap-south", 80, open],
    ["relay-mid", "us-east", 40, locked],
    ["relay-near", "eu-west", 10, open],
  ] as const) {
    const forwarder = await startDelayForwarder({
      targetHost: "127.0.0.1",
      targetPort: greeter.port,
      delayMs,
    });
    forwarders.set(name, forwarder);
    await registerRelay(control, { name, region, publicAddress: `127.0.0.1:${forwarder.port}` });
  }
  // Enrolled with an address but never heard from: not healthy, never probed.
  await registerRelay(control, {
    name: "relay-silent",
    region: "eu-west",
    publicAddress: `127.0.0.1:${forwarders.get("relay-near")!.port}`,
    heartbeat: false,
  });
});

afterAll(async () => {
  for (const f of forwarders.values()) await f.close();
  for (const g of greeters) await new Promise((resolve) => g.close(resolve));
  await control?.close();
});

describe("edgesocksctl nearest", () => {
  it("measures every healthy relay, sorts them by latency and writes configs for the nearest", async () => {
    const curlrc = join(control.dir, "curlrc");
    const chains = join(control.dir, "proxychains.conf");
    const result = await ctl(
      "nearest",
      "--samples",
      "3",
      "--json",
      "--write-curlrc",
      curlrc,
      "--write-proxychains",
      chains,
      "--proxy-user",
      'alice:s3"cret',
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      best: string;
      relays: Probe[];
      written: unknown[];
    };
    expect(report.best).toBe("relay-near");
    expect(report.relays.map((p) => p.name)).toEqual(["relay-near", "relay-mid", "relay-far"]);
    const [near, mid, far] = report.relays as [Probe, Probe, Probe];
    // The forwarder holds each direction for its delay: the greeting costs at least two of them.
    expect(near.greetingMs!).toBeGreaterThanOrEqual(20);
    expect(mid.totalMs!).toBeGreaterThan(near.totalMs!);
    expect(far.totalMs!).toBeGreaterThan(mid.totalMs!);
    expect(report.relays.map((p) => [p.ok, p.samples, p.auth, p.error])).toEqual([
      [3, 3, "none", null],
      [3, 3, "required", null],
      [3, 3, "none", null],
    ]);
    const nearPort = forwarders.get("relay-near")!.port;
    expect(readFileSync(curlrc, "utf8")).toBe(
      `# written by edgesocksctl nearest\nsocks5-hostname = "127.0.0.1:${nearPort}"\nproxy-user = "alice:s3\\"cret"\n`,
    );
    expect(statSync(curlrc).mode & 0o777).toBe(0o600);
    expect(report.written).toEqual([
      { kind: "curlrc", path: curlrc },
      { kind: "proxychains", path: chains },
    ]);
  });

  it("writes a proxychains config, filters by region, and prints a table for people", async () => {
    const chains = join(control.dir, "proxychains-us.conf");
    const result = await ctl(
      "nearest",
      "--samples",
      "1",
      "--region",
      "us-east,ap-south",
      "--write-proxychains",
      chains,
    );
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^NAME\s+REGION\s+ADDRESS\s+CONNECT_MS\s+GREETING_MS\s+TOTAL_MS\s+OK\s+AUTH\s+ERROR$/,
    );
    expect(lines.slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(["relay-mid", "relay-far"]);
    expect(lines).toContain(
      `best: relay-mid (us-east) at 127.0.0.1:${forwarders.get("relay-mid")!.port}`,
    );
    expect(lines.at(-1)).toBe(`wrote proxychains config: ${chains}`);
    const conf = readFileSync(chains, "utf8");
    expect(conf).toContain(`[ProxyList]\nsocks5 127.0.0.1 ${forwarders.get("relay-mid")!.port}\n`);
    expect(conf).toMatch(/^strict_chain$/m);
  });

  it("fails with exit code 1 when no healthy relay is in the asked regions, or none answers", async () => {
    const none = await ctl("nearest", "--region", "mars-1");
    expect(none).toMatchObject({ code: 1, stdout: "" });
    expect(none.stderr).toBe(
      "edgesocksctl: no healthy relay in mars-1 reports a public address (see edgesocksctl nodes list)\n",
    );
    const far = forwarders.get("relay-far")!;
    await far.close();
    const down = await ctl("nearest", "--samples", "1", "--region", "ap-south");
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/relay-far .*ECONNREFUSED/);
    expect(down.stderr).toBe("edgesocksctl: no relay answered (1 tried)\n");
  });
});

import { lookup } from "node:dns/promises";
import { connect } from "node:net";
import { type HostPort, parseHostPort } from "@edgesocks/socks/address";

/** What one relay measured like from here. */
export interface Probe {
  name: string;
  region: string;
  address: string;
  /** Median TCP connect time, in ms (the address is resolved once, before timing). */
  connectMs: number | null;
  /** Median SOCKS5 greeting round trip after connect (05 01 00 → 05 xx), in ms. */
  greetingMs: number | null;
  /** Median connect + greeting, in ms: what relays are sorted by. */
  totalMs: number | null;
  /** Samples that completed, of `samples`. */
  ok: number;
  samples: number;
  /** The relay's answer to "no auth": `none` (accepted), or `required` (it wants a login). */
  auth: "none" | "required" | null;
  /** The last failure, if any sample failed. */
  error: string | null;
}

export interface ProbeOptions {
  /** Connects per relay (one after another); the medians are reported. @default 5 */
  samples?: number;
  /** One sample's limit, connect + greeting, in ms. @default 2000 */
  timeoutMs?: number;
  /** Relays measured at once. @default 8 */
  concurrency?: number;
}

interface Sample {
  connectMs: number;
  greetingMs: number;
  method: number;
}

/** One connect + SOCKS5 greeting to an IP address. */
function sampleOnce(target: HostPort, timeoutMs: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let connectedAt = 0;
    let reply = Buffer.alloc(0);
    let settled = false;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const finish = (error: Error | null, sample?: Sample) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(sample!);
    };
    const timer = setTimeout(
      () => finish(new Error(`no SOCKS5 answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("connect", () => {
      connectedAt = performance.now();
      socket.write(Buffer.from([0x05, 0x01, 0x00]));
    });
    socket.on("data", (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length < 2) return;
      if (reply[0] !== 0x05) return finish(new Error("not a SOCKS5 server"));
      finish(null, {
        connectMs: connectedAt - startedAt,
        greetingMs: performance.now() - connectedAt,
        method: reply[1]!,
      });
    });
    socket.once("close", () => finish(new Error("closed before answering the SOCKS5 greeting")));
    socket.once("error", (error: NodeJS.ErrnoException) =>
      finish(new Error(error.code ?? error.message)),
    );
  });
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function probeRelay(
  relay: { name: string; region: string; address: string },
  samples: number,
  timeoutMs: number,
): Promise<Probe> {
  const result: Probe = {
    ...relay,
    connectMs: null,
    greetingMs: null,
    totalMs: null,
    ok: 0,
    samples,
    auth: null,
    error: null,
  };
  const parsed = parseHostPort(relay.address);
  if (parsed === undefined) return { ...result, error: "public address is not host:port" };
  let target: HostPort;
  try {
    // Resolved once, so DNS time is not counted as distance.
    target = { host: (await lookup(parsed.host)).address, port: parsed.port };
  } catch (error) {
    return {
      ...result,
      error: `cannot resolve ${parsed.host}: ${(error as NodeJS.ErrnoException).code}`,
    };
  }
  const done: Sample[] = [];
  for (let i = 0; i < samples; i++) {
    try {
      done.push(await sampleOnce(target, timeoutMs));
    } catch (error) {
      result.error = (error as Error).message;
    }
  }
  if (done.length === 0) return result;
  return {
    ...result,
    connectMs: median(done.map((s) => s.connectMs)),
    greetingMs: median(done.map((s) => s.greetingMs)),
    totalMs: median(done.map((s) => s.connectMs + s.greetingMs)),
    ok: done.length,
    auth: done.at(-1)!.method === 0x00 ? "none" : "required",
  };
}

/** Measures every relay and sorts them fastest first (by median total); failures last. */
export async function probeRelays(
  relays: readonly { name: string; region: string; address: string }[],
  options: ProbeOptions = {},
): Promise<Probe[]> {
  const samples = options.samples ?? 5;
  const timeoutMs = options.timeoutMs ?? 2000;
  const probes: Probe[] = [];
  const queue = [...relays];
  const worker = async () => {
    for (let relay = queue.shift(); relay !== undefined; relay = queue.shift()) {
      probes.push(await probeRelay(relay, samples, timeoutMs));
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 8, relays.length) }, worker),
  );
  const rank = (p: Probe) => p.totalMs ?? Number.POSITIVE_INFINITY;
  return probes.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

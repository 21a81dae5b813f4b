import { connect } from "node:net";
import { splitHostPort } from "./host-port";

export interface Probe {
  name: string;
  region: string;
  address: string;
  /** Median TCP connect time. */
  connectMs: number | null;
  /** Median connect + SOCKS5 greeting round trip (05 01 00 → 05 xx). */
  handshakeMs: number | null;
  error: string | null;
}

/** One connect + greeting; resolves with both timings or rejects. */
function probeOnce(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ connectMs: number; handshakeMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let connectMs = 0;
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    socket.once("connect", () => {
      connectMs = performance.now() - started;
      socket.write(Buffer.from([5, 1, 0]));
    });
    socket.once("data", (data: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (data[0] !== 5) reject(new Error("not a SOCKS5 server"));
      else resolve({ connectMs, handshakeMs: performance.now() - started });
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Measures every relay `samples` times and sorts them fastest first (failures last). */
export async function probeRelays(
  relays: { name: string; region: string; address: string }[],
  options: { samples: number; timeoutMs: number },
): Promise<Probe[]> {
  const probes = await Promise.all(
    relays.map(async (relay): Promise<Probe> => {
      const target = splitHostPort(relay.address);
      if (!target) return { ...relay, connectMs: null, handshakeMs: null, error: "bad address" };
      const connects: number[] = [];
      const handshakes: number[] = [];
      let error: string | null = null;
      for (let i = 0; i < options.samples; i++) {
        try {
          const t = await probeOnce(target.host, target.port, options.timeoutMs);
          connects.push(t.connectMs);
          handshakes.push(t.handshakeMs);
        } catch (e) {
          error = (e as Error).message;
        }
      }
      if (handshakes.length === 0) return { ...relay, connectMs: null, handshakeMs: null, error };
      return {
        ...relay,
        connectMs: median(connects),
        handshakeMs: median(handshakes),
        error: null,
      };
    }),
  );
  return probes.sort(
    (a, b) =>
      (a.handshakeMs ?? Number.POSITIVE_INFINITY) - (b.handshakeMs ?? Number.POSITIVE_INFINITY),
  );
}

export function curlrc(address: string): string {
  return `# written by edgesocksctl nearest\nsocks5-hostname = "${address}"\n`;
}

export function proxychainsConf(address: string): string {
  const target = splitHostPort(address)!;
  return `# written by edgesocksctl nearest\nstrict_chain\nproxy_dns\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n\n[ProxyList]\nsocks5 ${target.host} ${target.port}\n`;
}

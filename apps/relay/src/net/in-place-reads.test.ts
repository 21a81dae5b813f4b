import { createHash, randomBytes } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type FlowGate, pipeBothWays, type Shaping } from "../session/pipe";
import { socketPair as socketPairOf } from "../test-support/socket-pair";
import { connectUpstream } from "./upstream";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A server that sends `payload` to whoever connects, in uneven writes, then ends. */
async function source(payload: Buffer): Promise<number> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    let at = 0;
    const more = () => {
      while (at < payload.length) {
        const size = 1 + ((at * 7919) % 300_000);
        const ok = socket.write(payload.subarray(at, at + size));
        at += size;
        if (!ok) return void socket.once("drain", more);
      }
      socket.end();
    };
    more();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Two connected loopback sockets; the accepted side buffers up to 16 MiB
 * before write() says stop, so the relay keeps reading while earlier writes
 * are still pending.
 */
const socketPair = () => socketPairOf(16 * 1024 * 1024);

async function upstreamTo(port: number): Promise<Socket> {
  const result = await connectUpstream([{ address: "127.0.0.1", family: 4 }], {
    port,
    timeoutMs: 2000,
  });
  if (!result.ok) throw new Error(result.code);
  return result.socket;
}

/** Refuses every other offer and grants it a moment later. */
class StutteringGate implements FlowGate {
  sliceBytes = 100_000;
  #refuse = false;
  offer(_bytes: number, onGrant: () => void): boolean {
    this.#refuse = !this.#refuse;
    if (this.#refuse) setImmediate(onGrant);
    return !this.#refuse;
  }
}

function shapedDown(gate: FlowGate): Shaping {
  return { up: null, down: gate, watch() {}, release() {} };
}

describe("upstream sockets reading in place", () => {
  it.each([
    ["unshaped", undefined],
    ["shaped", shapedDown(new StutteringGate())],
  ])(
    "relay a download intact while the client pushes back (%s)",
    async (_name, shaping) => {
      const payload = randomBytes(24 * 1024 * 1024);
      const upstream = await upstreamTo(await source(payload));
      const [relayClient, clientApp] = await socketPair();
      const counters = { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0 };
      pipeBothWays(relayClient, upstream, counters, {
        idleTimeoutMs: 10_000,
        shaping,
        onClose: () => {},
      });
      // A slow reader: the relay's writes to it back up, so reads must not reuse
      // a buffer a pending write still points into.
      const received: Buffer[] = [];
      let reads = 0;
      clientApp.on("data", (chunk: Buffer) => {
        received.push(chunk);
        if (++reads % 8 === 0) {
          clientApp.pause();
          setTimeout(() => clientApp.resume(), 2);
        }
      });
      await new Promise((resolve) => clientApp.once("end", resolve));
      clientApp.destroy();
      const got = Buffer.concat(received);
      expect(got.length).toBe(payload.length);
      expect(sha256(got)).toBe(sha256(payload));
      expect(counters.bytesDown).toBe(payload.length);
    },
    30_000,
  );

  it("emit ordinary 'data' while no pipe reads them (a pooled connection)", async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const upstream = await upstreamTo(await source(payload));
    const received: Buffer[] = [];
    upstream.on("data", (chunk: Buffer) => received.push(chunk));
    await new Promise((resolve) => upstream.once("end", resolve));
    upstream.destroy();
    expect(sha256(Buffer.concat(received))).toBe(sha256(payload));
  });
});

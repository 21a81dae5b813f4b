import { createHash, randomBytes } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { startTestRelay } from "../src/test-support/test-relay";
import { socksConnect } from "../src/test-support/traffic";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** A destination that reads slowly (pausing now and then) and answers with the hash of all it got. */
function startHashingTarget(): Promise<{ port: number; close(): void }> {
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const hash = createHash("sha256");
    let reads = 0;
    socket.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      // Backpressure all the way to the client: the relay's reused read buffers must survive it.
      if (++reads % 8 === 0) {
        socket.pause();
        setTimeout(() => socket.resume(), 30);
      }
    });
    socket.on("end", () => socket.end(hash.digest("hex")));
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }),
    ),
  );
}

describe("bytes through the relay arrive exactly as sent", () => {
  it("uploads 24 MiB of random bytes against a slow reader, unchanged (client reads in place)", async () => {
    const target = await startHashingTarget();
    await using relay = await startTestRelay("");
    try {
      const payload = randomBytes(24 * 1024 * 1024);
      const socket = await socksConnect({
        proxyPort: relay.port,
        host: "127.0.0.1",
        port: target.port,
      });
      const answer = new Promise<string>((resolve) => {
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("end", () => resolve(text));
      });
      // Many writes of odd sizes, so reads straddle them.
      for (let at = 0; at < payload.length; at += 100_003) {
        socket.write(payload.subarray(at, Math.min(payload.length, at + 100_003)));
      }
      socket.end();
      expect(await answer).toBe(sha256(payload));
    } finally {
      target.close();
    }
  });
});

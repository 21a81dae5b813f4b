import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { socketPair } from "../test-support/socket-pair";
import { resetSocket } from "./reset-socket";

describe("resetSocket", () => {
  it("resets: the peer sees ECONNRESET, not the data still queued", async () => {
    const [ours, peer] = await socketPair();
    peer.pause();
    while (ours.write(Buffer.alloc(1 << 20)));
    const peerError = once(peer, "error");
    resetSocket(ours);
    await once(ours, "close");
    peer.resume();
    const [error] = (await peerError) as [NodeJS.ErrnoException];
    expect(error.code).toBe("ECONNRESET");
  });

  it("resets a socket whose end() still waits behind queued data", async () => {
    const [ours, peer] = await socketPair();
    peer.pause();
    while (ours.write(Buffer.alloc(1 << 20)));
    ours.end();
    const peerError = once(peer, "error");
    resetSocket(ours);
    await once(ours, "close");
    peer.resume();
    const [error] = (await peerError) as [NodeJS.ErrnoException];
    expect(error.code).toBe("ECONNRESET");
  });

  it("still closes a socket whose end() is pending (libuv refuses to reset it)", async () => {
    const [ours, peer] = await socketPair();
    ours.end();
    // Node asks libuv to shut down on the next tick; libuv does so a loop turn later.
    await new Promise((resolve) => process.nextTick(resolve));
    expect(ours.writableFinished).toBe(false);
    resetSocket(ours);
    await once(ours, "close");
    expect(ours.destroyed).toBe(true);
    peer.destroy();
  });
});

import { describe, expect, it } from "vitest";
import { socketPair } from "../test-support/socket-pair";
import { type ClientCodec, ClientCodecError } from "./client-codec";
import { type FlowGate, pipeBothWays, type Shaping } from "./pipe";

/** A gate the test opens by hand. */
class ManualGate implements FlowGate {
  sliceBytes = 1 << 20;
  open = false;
  readonly offered: number[] = [];
  #pending: (() => void) | null = null;

  offer(bytes: number, onGrant: () => void): boolean {
    this.offered.push(bytes);
    if (this.open) return true;
    this.#pending = onGrant;
    return false;
  }

  grant(): void {
    this.open = true;
    const pending = this.#pending;
    this.#pending = null;
    pending?.();
  }
}

function shaping(up: FlowGate | null, down: FlowGate | null) {
  let onChange = () => {};
  const s = {
    up,
    down,
    released: false,
    watch(callback: () => void) {
      onChange = callback;
    },
    release() {
      s.released = true;
    },
    change(next: { up?: FlowGate | null }) {
      if (next.up !== undefined) s.up = next.up;
      onChange();
    },
  };
  return s satisfies Shaping;
}

/** clientApp ↔ [relay: client | upstream] ↔ targetApp, piped with `options`. */
async function relayed(s: ReturnType<typeof shaping>) {
  const [relayClient, clientApp] = await socketPair();
  const [targetApp, relayUpstream] = await socketPair();
  const counters = { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0 };
  let closedWith: string | undefined;
  const pipe = pipeBothWays(relayClient, relayUpstream, counters, {
    idleTimeoutMs: 10_000,
    shaping: s,
    onClose: (reason) => {
      closedWith = reason;
    },
  });
  const received: Buffer[] = [];
  let targetEnded = false;
  targetApp.on("data", (chunk: Buffer) => received.push(chunk));
  targetApp.on("end", () => {
    targetEnded = true;
  });
  return {
    relayClient,
    clientApp,
    targetApp,
    counters,
    pipe,
    received: () => Buffer.concat(received).toString(),
    targetEnded: () => targetEnded,
    closedWith: () => closedWith,
    [Symbol.dispose]() {
      for (const s of [relayClient, clientApp, targetApp, relayUpstream]) s.destroy();
    },
  };
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe("pipe with shaping", () => {
  it("holds a refused chunk with its source paused, and sends it on the grant", async () => {
    const gate = new ManualGate();
    using r = await relayed(shaping(gate, null));
    r.clientApp.write("hello");
    await expect.poll(() => gate.offered.length).toBe(1);
    await settle();
    expect(r.received()).toBe("");
    expect(r.relayClient.isPaused()).toBe(true);
    expect(r.counters.bytesUp).toBe(5);
    gate.grant();
    await expect.poll(() => r.received()).toBe("hello");
    expect(r.relayClient.isPaused()).toBe(false);
  });

  it("passes the FIN on only after the chunk it was holding", async () => {
    const gate = new ManualGate();
    using r = await relayed(shaping(gate, null));
    r.clientApp.end("last words");
    await expect.poll(() => gate.offered.length).toBe(1);
    await settle();
    expect(r.targetEnded()).toBe(false);
    gate.grant();
    await expect.poll(() => r.targetEnded()).toBe(true);
    expect(r.received()).toBe("last words");
  });

  it("offers big chunks in slices of the gate's size", async () => {
    const gate = new ManualGate();
    gate.open = true;
    gate.sliceBytes = 1000;
    using r = await relayed(shaping(gate, null));
    r.clientApp.write(Buffer.alloc(5500, 0x62));
    await expect.poll(() => r.received().length).toBe(5500);
    expect(Math.max(...gate.offered)).toBeLessThanOrEqual(1000);
    expect(gate.offered.reduce((a, b) => a + b, 0)).toBe(5500);
  });

  it("re-offers or flushes what it holds when a policy change swaps the gate", async () => {
    const gate = new ManualGate();
    const s = shaping(gate, null);
    using r = await relayed(s);
    r.clientApp.write("held");
    await expect.poll(() => gate.offered.length).toBe(1);
    const next = new ManualGate();
    s.change({ up: next });
    expect(next.offered).toEqual([4]);
    await settle();
    expect(r.received()).toBe("");
    s.change({ up: null });
    await expect.poll(() => r.received()).toBe("held");
    // Unshaped now: the old grant, should it come, sends nothing twice.
    gate.grant();
    next.grant();
    r.clientApp.write("+fast");
    await expect.poll(() => r.received()).toBe("held+fast");
    expect(gate.offered).toHaveLength(1);
  });

  it("shapes the other direction with its own gate and leaves the shaper when the sockets close", async () => {
    const down = new ManualGate();
    const s = shaping(null, down);
    using r = await relayed(s);
    const back: Buffer[] = [];
    r.clientApp.on("data", (c: Buffer) => back.push(c));
    r.clientApp.write("up is free");
    await expect.poll(() => r.received()).toBe("up is free");
    r.targetApp.write("down waits");
    await expect.poll(() => down.offered.length).toBe(1);
    await settle();
    expect(back).toHaveLength(0);
    down.grant();
    await expect.poll(() => Buffer.concat(back).toString()).toBe("down waits");
    r.pipe.destroy("test_done");
    await expect.poll(() => r.closedWith()).toBe("test_done");
    expect(s.released).toBe(true);
  });
});

/**
 * A stand-in for RFC 1961 framing that only the pipe's plumbing is tested
 * with (the real codec runs against a real KDC in test/gssapi.test.ts):
 * frames are LEN(1) + bytes, "!" is a bad frame, encoding prefixes "<".
 */
class ByteFrames implements ClientCodec {
  #pending = Buffer.alloc(0);
  get pendingBytes() {
    return this.#pending.length;
  }
  decode(chunk: Buffer): Buffer {
    let buf = Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (buf.length > 0 && buf.length >= 1 + buf[0]!) {
      const body = Buffer.from(buf.subarray(1, 1 + buf[0]!));
      if (body.toString() === "!") throw new ClientCodecError("test_bad_frame", "bad frame");
      out.push(body);
      buf = buf.subarray(1 + buf[0]!);
    }
    this.#pending = Buffer.from(buf);
    return Buffer.concat(out);
  }
  encode(payload: Buffer): Buffer {
    return Buffer.concat([Buffer.from("<"), payload]);
  }
}

const frame = (text: string) => Buffer.concat([Buffer.from([text.length]), Buffer.from(text)]);

describe("pipe with a client codec", () => {
  async function coded() {
    const [relayClient, clientApp] = await socketPair();
    const [targetApp, relayUpstream] = await socketPair();
    const counters = { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0 };
    let closedWith: string | undefined;
    pipeBothWays(relayClient, relayUpstream, counters, {
      idleTimeoutMs: 10_000,
      clientCodec: new ByteFrames(),
      onClose: (reason) => {
        closedWith = reason;
      },
    });
    const up: Buffer[] = [];
    const down: Buffer[] = [];
    targetApp.on("data", (c: Buffer) => up.push(c));
    clientApp.on("data", (c: Buffer) => down.push(c));
    clientApp.on("error", () => {});
    return {
      clientApp,
      targetApp,
      counters,
      up: () => Buffer.concat(up).toString(),
      down: () => Buffer.concat(down).toString(),
      closedWith: () => closedWith,
      [Symbol.dispose]() {
        for (const s of [relayClient, clientApp, targetApp, relayUpstream]) s.destroy();
      },
    };
  }

  it("decodes frames from the client (split across reads), encodes what goes to it, counts payload", async () => {
    using r = await coded();
    const both = Buffer.concat([frame("hello"), frame(" world")]);
    r.clientApp.write(both.subarray(0, 3));
    await settle();
    expect(r.up()).toBe("");
    r.clientApp.write(both.subarray(3));
    await expect.poll(() => r.up()).toBe("hello world");
    r.targetApp.write("back");
    await expect.poll(() => r.down()).toBe("<back");
    expect(r.counters).toMatchObject({ bytesUp: 11, bytesDown: 4 });
  });

  it("closes the session with the codec's reason on a bad frame", async () => {
    using r = await coded();
    r.clientApp.write(Buffer.concat([frame("ok"), frame("!")]));
    await expect.poll(() => r.closedWith()).toBe("test_bad_frame");
  });
});

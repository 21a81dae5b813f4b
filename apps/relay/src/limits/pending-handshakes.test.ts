import { describe, expect, it } from "vitest";
import { type PendingDrop, PendingHandshakes } from "./pending-handshakes";

function table(options: { maxPending?: number; maxPendingPerClient?: number; timeoutMs?: number }) {
  let now = 0;
  const dropped: [string, PendingDrop][] = [];
  let gauge = 0;
  const pending = new PendingHandshakes({
    maxPending: options.maxPending ?? 100,
    maxPendingPerClient: options.maxPendingPerClient ?? 100,
    timeoutMs: options.timeoutMs ?? 1000,
    clock: () => now,
    onSize: (size) => {
      gauge = size;
    },
  });
  const admit = (name: string, client = "10.0.0.1") =>
    pending.admit(client, (why) => dropped.push([name, why]));
  return {
    pending,
    admit,
    dropped,
    get gauge() {
      return gauge;
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("PendingHandshakes", () => {
  it("drops the oldest handshake to admit a new one when full", () => {
    const t = table({ maxPending: 3 });
    t.admit("a", "10.0.0.1");
    t.admit("b", "10.0.0.2");
    t.admit("c", "10.0.0.3");
    t.admit("d", "10.0.0.4");
    expect(t.dropped).toEqual([["a", "evicted"]]);
    expect(t.pending.size).toBe(3);
    expect(t.gauge).toBe(3);
    t.pending.close();
  });

  it("drops an address's own oldest handshake past the per-client cap, sparing others", () => {
    const t = table({ maxPendingPerClient: 2 });
    t.admit("other", "10.0.0.9");
    t.admit("flood-1", "10.0.0.1");
    t.admit("flood-2", "10.0.0.1");
    t.admit("flood-3", "10.0.0.1");
    expect(t.dropped).toEqual([["flood-1", "evicted"]]);
    t.pending.close();
  });

  it("times a handshake out from admission, however it trickles, and not after it is done", () => {
    const t = table({ timeoutMs: 1000 });
    const finished = t.admit("finished");
    t.advance(500);
    t.admit("slow");
    finished.done();
    t.advance(600);
    t.pending.sweep();
    expect(t.dropped).toEqual([]);
    t.advance(400);
    t.pending.sweep();
    expect(t.dropped).toEqual([["slow", "timeout"]]);
    expect(t.pending.size).toBe(0);
    t.pending.close();
  });

  it("leaves the table before the drop callback runs, and done() afterwards is harmless", () => {
    const t = table({ maxPending: 1 });
    let sizeSeen = -1;
    const first = t.pending.admit("10.0.0.1", () => {
      sizeSeen = t.pending.size;
      first.done();
    });
    t.admit("second");
    expect(sizeSeen).toBe(0);
    expect(t.pending.size).toBe(1);
    t.pending.close();
  });

  it("sweeps on its own timer", async () => {
    const pending = new PendingHandshakes({
      maxPending: 10,
      maxPendingPerClient: 10,
      timeoutMs: 40,
    });
    const dropped = new Promise<PendingDrop>((resolve) => pending.admit("::1", resolve));
    expect(await dropped).toBe("timeout");
    pending.close();
  });
});

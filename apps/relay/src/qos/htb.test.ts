import { describe, expect, it } from "vitest";
import { type ClassLimits, effectiveBurst, type Flow, HtbTree, type TreeSettings } from "./htb";

const KB = 1000;
const MB = 1000 * KB;
const CHUNK = 64 * 1024;

const limits = (partial: Partial<ClassLimits> = {}): ClassLimits => ({
  guaranteedBytesPerSec: 0,
  maxBytesPerSec: undefined,
  burstBytes: undefined,
  ...partial,
});

const settings = (partial: Partial<TreeSettings> = {}): TreeSettings => ({
  globalBytesPerSec: undefined,
  burstBytes: undefined,
  fairSharing: true,
  ...partial,
});

/** A tree on a fake clock, driven the way the relay's timer drives it. */
function harness(treeSettings: TreeSettings, tickMs = 10) {
  let now = 0;
  let wakeRequests = 0;
  const tree = new HtbTree({
    clock: () => now,
    settings: treeSettings,
    onWait: () => {
      wakeRequests += 1;
    },
  });
  /** A greedy source per flow: offers CHUNK after CHUNK until refused. */
  interface Source {
    flow: Flow;
    bytes: number;
    active: boolean;
  }
  const sources: Source[] = [];
  const pump = (source: Source) => {
    // Bounded per step: an unshaped flow would otherwise send forever.
    for (let i = 0; i < 64 && source.active && !source.flow.waiting; i++) {
      const ok = source.flow.offer(CHUNK, () => {
        source.bytes += CHUNK;
      });
      if (ok) source.bytes += CHUNK;
    }
  };
  return {
    tree,
    get now() {
      return now;
    },
    get wakeRequests() {
      return wakeRequests;
    },
    open(user: string, classLimits: ClassLimits = limits()): Source {
      const source = { flow: tree.openFlow(user, classLimits), bytes: 0, active: true };
      sources.push(source);
      return source;
    },
    /** Advances the clock by `ms`, servicing every `tickMs` like the shared timer. */
    run(ms: number) {
      const end = now + ms;
      while (now < end) {
        for (const source of sources) pump(source);
        tree.service();
        for (const source of sources) pump(source);
        now += tickMs;
      }
    },
    /** Bytes each source moves during the next `ms`. */
    measure(ms: number, ...measured: Source[]): number[] {
      const before = measured.map((s) => s.bytes);
      this.run(ms);
      return measured.map((s, i) => s.bytes - before[i]!);
    },
  };
}

const rate = (bytes: number, ms: number) => (bytes / ms) * 1000;

describe("HtbTree: one user", () => {
  it("holds a user to its ceiling over a long run (the burst aside)", () => {
    const h = harness(settings());
    const a = h.open("alice", limits({ maxBytesPerSec: MB }));
    h.run(1000);
    const [bytes] = h.measure(10_000, a);
    expect(rate(bytes!, 10_000)).toBeGreaterThan(0.98 * MB);
    expect(rate(bytes!, 10_000)).toBeLessThan(1.02 * MB);
  });

  it("lets the first burst through at once, then paces", () => {
    const h = harness(settings());
    const a = h.open("alice", limits({ maxBytesPerSec: 100 * KB, burstBytes: 512 * 1024 }));
    h.run(10);
    expect(a.bytes).toBeGreaterThanOrEqual(512 * 1024);
    expect(a.bytes).toBeLessThanOrEqual(512 * 1024 + CHUNK);
  });

  it("passes a chunk larger than the burst by going into debt, then makes it up", () => {
    const h = harness(settings());
    const flow = h.tree.openFlow("alice", limits({ maxBytesPerSec: 64 * 1024 }));
    expect(flow.offer(1024 * 1024, () => {})).toBe(true);
    let granted = false;
    expect(flow.offer(1, () => (granted = true))).toBe(false);
    h.run(15_000);
    expect(granted).toBe(false);
    h.run(1_100);
    expect(granted).toBe(true);
  });

  it("does not shape a user with neither a ceiling nor a global rate", () => {
    const h = harness(settings());
    const a = h.open("alice", limits({ guaranteedBytesPerSec: 10 }));
    h.run(10);
    expect(a.flow.waiting).toBe(false);
    expect(a.bytes).toBe(64 * CHUNK * 2);
  });

  it("adds up bytes offered while a flow already waits and grants them together", () => {
    const h = harness(settings());
    const flow = h.tree.openFlow("alice", limits({ maxBytesPerSec: 64 * 1024 }));
    expect(flow.offer(70 * 1024, () => {})).toBe(true);
    let grants = 0;
    expect(flow.offer(1000, () => (grants += 1))).toBe(false);
    expect(flow.offer(2000, () => (grants += 100))).toBe(false);
    while (grants === 0 && h.now < 2000) h.run(10);
    expect(grants).toBe(1);
    // All 3000 bytes were charged at the grant: the bucket is in debt again right after.
    expect(flow.offer(1, () => {})).toBe(false);
  });

  it("slices at about 100 ms of the user's rate, between 4 KiB and 64 KiB", () => {
    const tree = new HtbTree({ clock: () => 0, settings: settings() });
    expect(tree.openFlow("a", limits({ maxBytesPerSec: 100 * KB })).sliceBytes).toBe(10_000);
    expect(tree.openFlow("b", limits({ maxBytesPerSec: 1000 })).sliceBytes).toBe(4096);
    expect(tree.openFlow("c", limits({ maxBytesPerSec: 100 * MB })).sliceBytes).toBe(65536);
    tree.configure(settings({ globalBytesPerSec: 200 * KB }));
    expect(tree.openFlow("c", limits({ maxBytesPerSec: 100 * MB })).sliceBytes).toBe(20_000);
  });

  it("never makes a bucket shallower than one read or 100 ms of its rate", () => {
    expect(effectiveBurst(1000, undefined)).toBe(64 * 1024);
    expect(effectiveBurst(100 * MB, 1000)).toBe(10 * MB);
    expect(effectiveBurst(MB, 4 * MB)).toBe(4 * MB);
  });
});

describe("HtbTree: sharing a global rate", () => {
  it("gives two greedy users about half each", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB }));
    const a = h.open("alice");
    const b = h.open("bob");
    h.run(1000);
    const [ra, rb] = h.measure(10_000, a, b).map((bytes) => rate(bytes, 10_000));
    expect(ra! + rb!).toBeGreaterThan(1.97 * MB);
    expect(ra! + rb!).toBeLessThan(2.03 * MB);
    expect(ra!).toBeGreaterThan(0.95 * MB);
    expect(rb!).toBeGreaterThan(0.95 * MB);
  });

  it("shares per user, not per connection", () => {
    const h = harness(settings({ globalBytesPerSec: 3 * MB }));
    const a = h.open("alice");
    const b = h.open("bob");
    const many = [1, 2, 3, 4, 5].map(() => h.open("mallory"));
    h.run(1000);
    const measured = h.measure(10_000, a, b, ...many).map((bytes) => rate(bytes, 10_000));
    const mallory = measured.slice(2).reduce((sum, r) => sum + r, 0);
    expect(measured[0]).toBeGreaterThan(0.93 * MB);
    expect(measured[1]).toBeGreaterThan(0.93 * MB);
    expect(mallory).toBeLessThan(1.07 * MB);
    // ...and the five connections of one user take turns.
    for (const r of measured.slice(2)) expect(r).toBeGreaterThan(0.15 * MB);
  });

  it("re-balances as users come and go, reserving nothing for idle users", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB }));
    const a = h.open("alice");
    const b = h.open("bob");
    b.active = false; // connected but silent
    h.run(500);
    let [ra] = h.measure(2000, a);
    expect(rate(ra!, 2000)).toBeGreaterThan(1.9 * MB);
    b.active = true;
    h.run(200);
    const [ra2, rb2] = h.measure(4000, a, b).map((bytes) => rate(bytes, 4000));
    expect(ra2).toBeGreaterThan(0.9 * MB);
    expect(ra2).toBeLessThan(1.1 * MB);
    expect(rb2).toBeGreaterThan(0.9 * MB);
    b.active = false;
    h.run(200);
    [ra] = h.measure(2000, a);
    expect(rate(ra!, 2000)).toBeGreaterThan(1.9 * MB);
  });

  it("gives a user that joins late no credit for the time it was away", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB }));
    const a = h.open("alice");
    h.run(5000);
    const b = h.open("bob");
    const [ra, rb] = h.measure(1000, a, b).map((bytes) => rate(bytes, 1000));
    // Bob does not get alice's five seconds back: from the start the split is even.
    expect(rb).toBeLessThan(1.25 * MB);
    expect(ra).toBeGreaterThan(0.75 * MB);
  });

  it("hands the share a capped user cannot use to the others (work conserving)", () => {
    const h = harness(settings({ globalBytesPerSec: MB }));
    const a = h.open("alice", limits({ maxBytesPerSec: 200 * KB }));
    const b = h.open("bob");
    h.run(1000);
    const [ra, rb] = h.measure(10_000, a, b).map((bytes) => rate(bytes, 10_000));
    expect(ra).toBeGreaterThan(0.19 * MB);
    expect(ra).toBeLessThan(0.21 * MB);
    expect(rb).toBeGreaterThan(0.77 * MB);
    expect(rb).toBeLessThan(0.83 * MB);
  });

  it("keeps a guarantee while a greedy user saturates the rest", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB }));
    const a = h.open(
      "alice",
      limits({ guaranteedBytesPerSec: 800 * KB, maxBytesPerSec: 800 * KB }),
    );
    const greedy = [1, 2, 3, 4].map(() => h.open("bob"));
    h.run(1000);
    const measured = h.measure(10_000, a, ...greedy).map((bytes) => rate(bytes, 10_000));
    const bob = measured.slice(1).reduce((sum, r) => sum + r, 0);
    expect(measured[0]).toBeGreaterThan(0.78 * MB);
    expect(measured[0]).toBeLessThan(0.82 * MB);
    expect(bob).toBeGreaterThan(1.15 * MB);
    expect(bob).toBeLessThan(1.25 * MB);
  });

  it("adds the guarantee to an equal share of what the guarantees leave spare", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB }));
    const a = h.open("alice", limits({ guaranteedBytesPerSec: MB }));
    const others = ["bob", "carol", "dave"].map((user) => h.open(user));
    h.run(1000);
    const measured = h.measure(10_000, a, ...others).map((bytes) => rate(bytes, 10_000));
    // 1 MB/s guaranteed + a quarter of the 1 MB/s left = 1.25 MB/s; the others 0.25 each.
    expect(measured[0]).toBeGreaterThan(1.2 * MB);
    expect(measured[0]).toBeLessThan(1.3 * MB);
    for (const r of measured.slice(1)) {
      expect(r).toBeGreaterThan(0.22 * MB);
      expect(r).toBeLessThan(0.28 * MB);
    }
  });

  it("holds the total to the global rate even when guarantees oversubscribe it", () => {
    const h = harness(settings({ globalBytesPerSec: MB }));
    const users = ["a", "b", "c"].map((u) => h.open(u, limits({ guaranteedBytesPerSec: MB })));
    h.run(1000);
    const total = h.measure(10_000, ...users).reduce((sum, bytes) => sum + bytes, 0);
    expect(rate(total, 10_000)).toBeLessThan(1.03 * MB);
    expect(rate(total, 10_000)).toBeGreaterThan(0.97 * MB);
  });

  it("serves first come, first served without fair sharing, still within the global rate", () => {
    const h = harness(settings({ globalBytesPerSec: 2 * MB, fairSharing: false }));
    const a = h.open("alice");
    const b = h.open("bob");
    h.run(1000);
    const [ra, rb] = h.measure(10_000, a, b).map((bytes) => rate(bytes, 10_000));
    expect(ra! + rb!).toBeLessThan(2.03 * MB);
    expect(ra! + rb!).toBeGreaterThan(1.97 * MB);
    expect(Math.min(ra!, rb!)).toBeGreaterThan(0);
  });
});

describe("HtbTree: changes and teardown", () => {
  it("applies new limits to flows already open", () => {
    const h = harness(settings());
    const a = h.open("alice", limits({ maxBytesPerSec: MB }));
    h.run(1000);
    h.tree.setLimits("alice", limits({ maxBytesPerSec: 250 * KB }));
    h.run(500);
    const [bytes] = h.measure(8000, a);
    expect(rate(bytes!, 8000)).toBeGreaterThan(0.24 * MB);
    expect(rate(bytes!, 8000)).toBeLessThan(0.26 * MB);
  });

  it("applies a new global rate to flows already open", () => {
    const h = harness(settings({ globalBytesPerSec: 4 * MB }));
    const a = h.open("alice");
    h.run(1000);
    h.tree.configure(settings({ globalBytesPerSec: MB }));
    h.run(500);
    const [bytes] = h.measure(8000, a);
    expect(rate(bytes!, 8000)).toBeGreaterThan(0.97 * MB);
    expect(rate(bytes!, 8000)).toBeLessThan(1.03 * MB);
  });

  it("asks for service when a flow starts waiting and when limits change under waiting flows", () => {
    const h = harness(settings({ globalBytesPerSec: 100 * KB }));
    const flow = h.tree.openFlow("alice", limits());
    expect(flow.offer(200 * 1024, () => {})).toBe(true);
    expect(h.wakeRequests).toBe(0);
    expect(flow.offer(10, () => {})).toBe(false);
    expect(h.wakeRequests).toBe(1);
    h.tree.configure(settings({ globalBytesPerSec: 10 * MB }));
    expect(h.wakeRequests).toBe(2);
  });

  it("drops a closed flow's wait without granting it and forgets users without flows", () => {
    const h = harness(settings({ globalBytesPerSec: 100 * KB }));
    const first = h.tree.openFlow("alice", limits());
    const second = h.tree.openFlow("alice", limits());
    expect(first.offer(200 * 1024, () => {})).toBe(true);
    let granted = false;
    expect(first.offer(10, () => (granted = true))).toBe(false);
    expect(h.tree.waitingFlows).toBe(1);
    first.close();
    expect(h.tree.waitingFlows).toBe(0);
    h.run(5000);
    expect(granted).toBe(false);
    expect(h.tree.users).toBe(1);
    second.close();
    expect(h.tree.users).toBe(0);
    // A closed flow is never shaped again.
    expect(first.offer(10 * MB, () => {})).toBe(true);
  });

  it("reports when the next flow can go, or Infinity when none waits", () => {
    const h = harness(settings());
    const flow = h.tree.openFlow("alice", limits({ maxBytesPerSec: 1000 * KB }));
    expect(h.tree.service()).toBe(Number.POSITIVE_INFINITY);
    flow.offer(200 * KB, () => {});
    flow.offer(1, () => {});
    const waitMs = h.tree.service();
    expect(waitMs).toBeGreaterThan(99);
    expect(waitMs).toBeLessThan(102);
  });
});

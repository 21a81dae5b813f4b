import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Spool } from "./spool";

const dir = () => mkdtempSync(join(tmpdir(), "edgesocks-spool-"));

describe("Spool", () => {
  it("hands records back in order and forgets them only after commit", () => {
    const path = dir();
    const spool = new Spool<{ n: number }>({ dir: path, segmentBytes: 64 });
    for (let n = 0; n < 20; n++) spool.append({ n });
    const first = spool.read(7);
    expect(first.records.map((r) => r.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Not committed: reading again returns the same records.
    expect(spool.read(7).records.map((r) => r.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    spool.commit(first.next);
    const rest = spool.read(100);
    expect(rest.records.map((r) => r.n)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    spool.commit(rest.next);
    expect(spool.read(100).records).toEqual([]);
    expect(spool.backlogBytes()).toBe(0);
    // Consumed segments are deleted; the open one stays.
    expect(readdirSync(path).filter((f) => f.startsWith("segment-")).length).toBe(1);
    spool.close();
  });

  it("survives a restart: uncommitted records are read again, committed ones are not", () => {
    const path = dir();
    const a = new Spool<{ n: number }>({ dir: path, segmentBytes: 50 });
    for (let n = 0; n < 10; n++) a.append({ n });
    a.commit(a.read(4).next);
    a.close();
    const b = new Spool<{ n: number }>({ dir: path, segmentBytes: 50 });
    b.append({ n: 10 });
    expect(b.read(100).records.map((r) => r.n)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    b.close();
  });

  it("over its cap refuses new records and counts them (fleet mode)", () => {
    const dropped: number[] = [];
    const spool = new Spool<{ n: number }>({
      dir: dir(),
      maxBytes: 100,
      onDrop: (count) => dropped.push(count),
    });
    for (let n = 0; n < 20; n++) spool.append({ n });
    spool.flush();
    const kept = spool.read(100).records.length;
    expect(kept).toBeGreaterThan(0);
    expect(kept + dropped.reduce((a, b) => a + b, 0)).toBe(20);
    spool.close();
  });

  it("as a rotated log deletes the oldest segment and counts its records (standalone mode)", () => {
    let rotatedOut = 0;
    const spool = new Spool<{ n: number }>({
      dir: dir(),
      segmentBytes: 40,
      maxBytes: 120,
      overflow: "drop-oldest",
      onDrop: (count) => {
        rotatedOut += count;
      },
    });
    for (let n = 0; n < 50; n++) spool.append({ n });
    spool.flush();
    const kept = spool.read(1000).records;
    expect(kept.at(-1)?.n).toBe(49);
    expect(kept.length + rotatedOut).toBe(50);
    spool.close();
  });
});

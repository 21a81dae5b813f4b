import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Quarantine } from "./quarantine";
import { Spool } from "./spool";

const dir = () => mkdtempSync(join(tmpdir(), "edgesocks-spool-"));
const parse = (value: unknown) => {
  const n = (value as { n?: unknown }).n;
  if (typeof n !== "number") throw new Error("n: expected a number");
  return { n };
};
const segmentLines = (path: string) =>
  readdirSync(path)
    .filter((f) => f.startsWith("segment-"))
    .sort()
    .map((f) => readFileSync(join(path, f), "utf8"));

const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync("umount", ["-l", m]);
});

/** A real, tiny tmpfs: writes past its size fail with ENOSPC, as on a full disk. */
function tinyDisk(bytes: number): string {
  const path = dir();
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path]);
  mounts.push(path);
  return path;
}

describe("Spool faults", () => {
  it("skips, counts and quarantines a garbled line; reading carries on after it", () => {
    const path = dir();
    const quarantine = new Quarantine({ path: join(path, "quarantine.ndjson") });
    let corrupt = 0;
    const open = () =>
      new Spool<{ n: number }>({
        dir: join(path, "spool"),
        parse,
        quarantine,
        onCorrupt: (c) => (corrupt += c),
      });
    const a = open();
    a.append({ n: 1 });
    a.flush();
    a.close();
    // A disk error garbles a line; another one is valid JSON but not a record.
    const segment = join(path, "spool", "segment-000000000001.ndjson");
    appendFileSync(segment, Buffer.from([0x7b, 0xff, 0xfe, 0x0a]));
    appendFileSync(segment, '{"x":1}\n{"n":2}\n');
    const b = open();
    const batch = b.read(10);
    expect(batch.records).toEqual([{ n: 1 }, { n: 2 }]);
    expect(corrupt).toBe(2);
    // Reading the same lines again does not quarantine them twice.
    b.read(10);
    expect(corrupt).toBe(2);
    expect(quarantine.size).toBe(2);
    const entries = readFileSync(quarantine.path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(entries.map((e) => e.reason)).toEqual([
      expect.stringMatching(/^unreadable: /),
      "unreadable: n: expected a number",
    ]);
    expect(entries[1].line).toBe('{"x":1}');
    b.close();
  });

  it("after a crash mid-write, the torn line is quarantined and new records are not glued to it", () => {
    const path = dir();
    const quarantine = new Quarantine({ path: join(path, "q.ndjson") });
    const spoolDir = join(path, "spool");
    const a = new Spool<{ n: number }>({ dir: spoolDir, parse, quarantine });
    a.append({ n: 1 });
    a.flush();
    a.close();
    // What a SIGKILL between two write(2)s of one line leaves.
    appendFileSync(join(spoolDir, "segment-000000000001.ndjson"), '{"n":');
    const b = new Spool<{ n: number }>({ dir: spoolDir, parse, quarantine });
    b.append({ n: 2 });
    b.flush();
    expect(b.read(10).records).toEqual([{ n: 1 }, { n: 2 }]);
    expect(quarantine.size).toBe(1);
    expect(readFileSync(quarantine.path, "utf8")).toContain("truncated line");
    // The quarantine count survives a restart: it is the file's line count.
    expect(new Quarantine({ path: quarantine.path }).size).toBe(1);
    b.close();
  });

  it("on a full disk holds records in memory, never tears a line, and writes them once there is room", async () => {
    const disk = tinyDisk(64 * 1024);
    const spoolDir = join(disk, "spool");
    const events: boolean[] = [];
    const dropped: string[] = [];
    const spool = new Spool<{ n: number; pad: string }>({
      dir: spoolDir,
      retryMs: 20,
      onWritable: (writable) => events.push(writable),
      onDrop: (_count, reason) => dropped.push(reason),
    });
    // Fill the disk so that only part of the next write fits.
    const filler = join(disk, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(64 * 1024 - 1000));
    } catch {
      // ENOSPC part way: the disk is full, which is the point.
    }
    const pad = "x".repeat(300);
    for (let n = 0; n < 40; n++) spool.append({ n, pad });
    spool.flush();
    expect(spool.health().writable).toBe(false);
    expect(spool.health().error).toMatch(/ENOSPC/);
    expect(spool.health().unwrittenRecords).toBeGreaterThan(0);
    // Every line on disk is whole.
    for (const text of segmentLines(spoolDir))
      expect(text === "" || text.endsWith("\n")).toBe(true);
    // Room again: the retry writes everything, in order, and says so.
    rmSync(filler);
    await new Promise((r) => setTimeout(r, 100));
    expect(spool.health()).toEqual({ writable: true, error: null, unwrittenRecords: 0 });
    expect(events).toEqual([false, true]);
    expect(spool.read(100).records.map((r) => r.n)).toEqual([...Array(40).keys()]);
    expect(dropped).toEqual([]);
    spool.close();
  });

  it("when the cursor cannot be written, does not re-send, and persists it once the disk has room", async () => {
    const disk = tinyDisk(64 * 1024);
    const spoolDir = join(disk, "spool");
    const spool = new Spool<{ n: number }>({ dir: spoolDir, retryMs: 20 });
    for (let n = 0; n < 5; n++) spool.append({ n });
    const batch = spool.read(3);
    const filler = join(disk, "filler");
    try {
      writeFileSync(filler, Buffer.alloc(64 * 1024));
    } catch {
      // full
    }
    spool.commit(batch.next);
    expect(spool.health().writable).toBe(false);
    // The next read starts after the committed batch even though the file lags.
    expect(spool.read(10).records.map((r) => r.n)).toEqual([3, 4]);
    rmSync(filler);
    await new Promise((r) => setTimeout(r, 100));
    expect(spool.health().writable).toBe(true);
    expect(JSON.parse(readFileSync(join(spoolDir, "cursor.json"), "utf8"))).toEqual(batch.next);
    spool.close();
  });

  it("starts on a read-only state dir, says why, and writes once it is read-write again", async () => {
    const path = dir();
    const spoolDir = join(path, "spool");
    mkdirSync(spoolDir);
    // A read-only bind mount of the spool dir over itself.
    execFileSync("mount", ["--bind", spoolDir, spoolDir]);
    mounts.push(spoolDir);
    execFileSync("mount", ["-o", "remount,bind,ro", spoolDir]);
    const spool = new Spool<{ n: number }>({ dir: spoolDir, retryMs: 20 });
    spool.append({ n: 1 });
    spool.flush();
    expect(spool.health()).toMatchObject({
      writable: false,
      error: expect.stringMatching(/EROFS/),
    });
    execFileSync("mount", ["-o", "remount,bind,rw", spoolDir]);
    await new Promise((r) => setTimeout(r, 100));
    expect(spool.health().writable).toBe(true);
    expect(spool.read(10).records).toEqual([{ n: 1 }]);
    spool.close();
  });

  it("past its memory bound while the disk refuses writes, counts what it gives up", () => {
    const disk = tinyDisk(16 * 1024);
    try {
      writeFileSync(join(disk, "filler"), Buffer.alloc(16 * 1024));
    } catch {
      // full
    }
    let unwritable = 0;
    const spool = new Spool<{ n: number }>({
      dir: join(disk, "spool"),
      maxUnwrittenBytes: 100,
      onDrop: (count, reason) => {
        if (reason === "unwritable") unwritable += count;
      },
    });
    for (let n = 0; n < 30; n++) spool.append({ n });
    spool.flush();
    const held = spool.health().unwrittenRecords;
    expect(held).toBeGreaterThan(0);
    expect(held + unwritable).toBe(30);
    spool.close();
  });
});

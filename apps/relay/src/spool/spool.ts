import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Quarantine } from "./quarantine";

export type SpoolDropReason = "spool_full" | "rotated_out" | "unwritable";

export interface SpoolOptions<T> {
  dir: string;
  /** A segment file is closed and a new one started past this size. @default 4 MiB */
  segmentBytes?: number;
  /** All segments together at most; what the cap turns away is counted. @default 256 MiB */
  maxBytes?: number;
  /**
   * Over the cap: `drop-newest` refuses new records (a shipper will drain the
   * spool), `drop-oldest` deletes the oldest segment (standalone: the spool is
   * a rotated log).
   */
  overflow?: "drop-newest" | "drop-oldest";
  /** Told how many records were given up and why (the cap, or a disk that stays unwritable). */
  onDrop?: (count: number, reason: SpoolDropReason) => void;
  /** Checks a record read back from disk; throws on one that is not a T. @default JSON as is */
  parse?: (value: unknown) => T;
  /** Unreadable lines (torn by a crash, garbled by the disk) go here and reading carries on. */
  quarantine?: Quarantine;
  /** Told how many unreadable lines reading skipped. */
  onCorrupt?: (count: number) => void;
  /** Told when writing fails (the disk is full or read-only) and when it works again. */
  onWritable?: (writable: boolean, error: Error | null) => void;
  /** While the disk refuses writes, records wait in memory up to this. @default 16 MiB */
  maxUnwrittenBytes?: number;
  /** How often a failed write is tried again. @default 1000 (ms) */
  retryMs?: number;
}

export interface SpoolCursor {
  segment: number;
  offset: number;
}

export interface SpoolBatch<T> {
  records: T[];
  /** Commit this after the records are safely elsewhere. */
  next: SpoolCursor;
}

export interface SpoolHealth {
  /** False while records or the cursor cannot be written. */
  writable: boolean;
  /** The last write error, e.g. `ENOSPC: no space left on device, write`. */
  error: string | null;
  /** Records waiting in memory for the disk. */
  unwrittenRecords: number;
}

const SEGMENT = /^segment-(\d{12})\.ndjson$/;
const name = (n: number) => `segment-${String(n).padStart(12, "0")}.ndjson`;
const NEWLINE = 0x0a;
/** A quarantined unreadable line keeps at most this much of its text. */
const MAX_QUARANTINED_LINE = 64 * 1024;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * An append-only on-disk queue of NDJSON records in size-rotated segments
 * with a committed read cursor. A record is written with write(2) in the
 * same tick it is appended (batched per tick), so a SIGKILL of the relay
 * loses nothing that reached the spool; the cursor advances only when a
 * consumer commits, so a crash between send and commit re-sends (the
 * control plane's insert is idempotent).
 *
 * A full or read-only disk never tears a line (a short or failed write is
 * truncated away, or the segment is abandoned for a new one) and never
 * throws at the caller: records wait in memory, bounded, and are written
 * when the disk takes them again. A line that is unreadable anyway (a crash
 * mid-write, a disk error) is quarantined and skipped.
 */
export class Spool<T> {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #maxBytes: number;
  readonly #overflow: "drop-newest" | "drop-oldest";
  readonly #options: SpoolOptions<T>;
  readonly #maxUnwrittenBytes: number;
  readonly #retryMs: number;
  #fd = -1;
  #segment: number;
  #segmentSize = 0;
  #totalBytes: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #cursor: SpoolCursor;
  /** The cursor on disk is behind #cursor (its write failed). */
  #cursorDirty = false;
  /** The open segment may end in a partial line: write the next records to a new one. */
  #torn = false;
  #error: Error | null = null;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Unreadable lines already quarantined (segment:offset), so a re-read does not add them twice. */
  readonly #quarantined = new Set<string>();
  readonly #listeners = new Set<() => void>();
  #closed = false;

  constructor(options: SpoolOptions<T>) {
    this.#options = options;
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#overflow = options.overflow ?? "drop-newest";
    this.#maxUnwrittenBytes = options.maxUnwrittenBytes ?? 16 * 1024 * 1024;
    this.#retryMs = options.retryMs ?? 1000;
    mkdirSync(this.#dir, { recursive: true });
    const segments = this.#segments();
    this.#cursor = this.#readCursor() ?? { segment: segments[0] ?? 1, offset: 0 };
    this.#segment = segments.at(-1) ?? 1;
    this.#totalBytes = segments.reduce((sum, n) => sum + this.#size(n), 0);
    this.#segmentSize = this.#size(this.#segment);
    // A crash mid-write left a partial last line: new records go to a new segment, and the
    // partial line, now in a closed one, is quarantined by the reader.
    if (this.#segmentSize > 0 && !this.#endsWithNewline(this.#segment)) {
      try {
        this.#rotate();
      } catch {
        this.#torn = true;
      }
    }
  }

  /** Calls `listener` whenever records reached the disk (a shipper waits on this). */
  onRecords(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Queues a record; it is on disk before the next turn of the event loop (or when the disk takes it). */
  append(record: T): void {
    if (this.#closed) return;
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.#pendingBytes + bytes > this.#maxUnwrittenBytes) {
      this.#options.onDrop?.(1, "unwritable");
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += bytes;
    if (!this.#flushScheduled && this.#error === null) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes queued records now (a failing disk: they stay queued and are tried again later). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 || this.#closed) return;
    const lines = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    // lines[written..i) are in the chunk being built; lines before `written` are on disk.
    let written = 0;
    let chunkBytes = 0;
    const writeChunk = (end: number) => {
      if (end > written) this.#write(lines.slice(written, end).join(""));
      written = end;
      chunkBytes = 0;
    };
    let dropped = 0;
    try {
      this.#prepare();
      for (let i = 0; i < lines.length; i++) {
        const bytes = Buffer.byteLength(lines[i]!);
        if (this.#totalBytes + chunkBytes + bytes > this.#maxBytes) {
          writeChunk(i);
          if (this.#overflow === "drop-newest" || !this.#dropOldest()) {
            // Over the cap: this line is given up (counted), the next ones are tried.
            lines[i] = "";
            dropped += 1;
            continue;
          }
        }
        chunkBytes += bytes;
        if (this.#segmentSize + chunkBytes >= this.#segmentBytes) {
          writeChunk(i + 1);
          this.#rotate();
        }
      }
      writeChunk(lines.length);
      this.#recovered();
    } catch (error) {
      const rest = lines.slice(written).filter((l) => l !== "");
      this.#pending = [...rest, ...this.#pending];
      this.#pendingBytes += rest.reduce((sum, l) => sum + Buffer.byteLength(l), 0);
      this.#failed(error as Error);
    } finally {
      if (dropped > 0) this.#options.onDrop?.(dropped, "spool_full");
    }
    if (written > 0) for (const listener of this.#listeners) listener();
  }

  /**
   * Reads up to `max` records after the committed cursor (or `from`). Unreadable lines are
   * quarantined and skipped; `next` passes them, so committing it moves on.
   */
  read(max: number, from: SpoolCursor = this.#cursor): SpoolBatch<T> {
    this.flush();
    const records: T[] = [];
    let { segment, offset } = from;
    while (records.length < max) {
      const path = join(this.#dir, name(segment));
      if (!existsSync(path)) {
        if (segment >= this.#segment) break;
        segment += 1;
        offset = 0;
        continue;
      }
      const data = readFileSync(path);
      const last = segment >= this.#segment;
      while (records.length < max && offset < data.length) {
        const end = data.indexOf(NEWLINE, offset);
        if (end === -1) {
          // The open segment: a line being written. A closed one: torn by a crash.
          if (last) break;
          this.#unreadable(segment, offset, data.subarray(offset), "truncated line");
          offset = data.length;
          break;
        }
        if (end > offset) {
          const record = this.#decode(data.subarray(offset, end));
          if (record.ok) records.push(record.value);
          else this.#unreadable(segment, offset, data.subarray(offset, end), record.error);
        }
        offset = end + 1;
      }
      if (records.length >= max || last || offset < data.length) break;
      segment += 1;
      offset = 0;
    }
    return { records, next: { segment, offset } };
  }

  /** The committed cursor (where the next read starts). */
  get cursor(): SpoolCursor {
    return this.#cursor;
  }

  /** Records that `next` was delivered: persists the cursor and deletes consumed segments. */
  commit(next: SpoolCursor): void {
    this.#cursor = next;
    for (const key of this.#quarantined) {
      const [segment, offset] = key.split(":").map(Number) as [number, number];
      if (segment < next.segment || (segment === next.segment && offset < next.offset))
        this.#quarantined.delete(key);
    }
    try {
      this.#writeCursor();
      this.#cursorDirty = false;
      this.#recovered();
    } catch (error) {
      // Kept in memory, so this process does not re-send; written once the disk takes it.
      this.#cursorDirty = true;
      this.#failed(error as Error);
    }
    for (const n of this.#segments()) {
      if (n >= next.segment) continue;
      const size = this.#size(n);
      try {
        unlinkSync(join(this.#dir, name(n)));
        this.#totalBytes -= size;
      } catch {
        // Deleted on a later commit.
      }
    }
  }

  /** Bytes waiting after the committed cursor (for the backlog metric). */
  backlogBytes(): number {
    let total = 0;
    for (const n of this.#segments()) {
      if (n > this.#cursor.segment) total += this.#size(n);
      else if (n === this.#cursor.segment)
        total += Math.max(0, this.#size(n) - this.#cursor.offset);
    }
    return total + this.#pendingBytes;
  }

  health(): SpoolHealth {
    return {
      writable: this.#error === null,
      error: this.#error === null ? null : this.#error.message,
      unwrittenRecords: this.#pending.length,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    if (this.#pending.length > 0) this.#options.onDrop?.(this.#pending.length, "unwritable");
    if (this.#fd === -1) return;
    try {
      fsyncSync(this.#fd);
    } catch {
      // Nothing more can be done for a disk that refuses fsync at exit.
    }
    closeSync(this.#fd);
  }

  /** Opens the segment to write, starting a new one after a torn write. */
  #prepare(): void {
    if (this.#torn) {
      this.#rotate();
      this.#torn = false;
    }
    if (this.#fd === -1) this.#fd = openSync(join(this.#dir, name(this.#segment)), "a", 0o600);
    if (this.#cursorDirty) {
      this.#writeCursor();
      this.#cursorDirty = false;
    }
  }

  /** Writes all of `chunk` or none of it: a short or failed write is cut back off the file. */
  #write(chunk: string): void {
    if (chunk.length === 0) return;
    const bytes = Buffer.from(chunk);
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(this.#fd, bytes, done);
    } catch (error) {
      if (done > 0) {
        try {
          ftruncateSync(this.#fd, this.#segmentSize);
        } catch {
          this.#torn = true;
        }
      }
      throw error;
    }
    this.#segmentSize += bytes.length;
    this.#totalBytes += bytes.length;
  }

  #rotate(): void {
    const next = openSync(join(this.#dir, name(this.#segment + 1)), "a", 0o600);
    if (this.#fd !== -1) closeSync(this.#fd);
    if (this.#torn) this.#totalBytes += this.#size(this.#segment) - this.#segmentSize;
    this.#fd = next;
    this.#segment += 1;
    this.#segmentSize = 0;
  }

  #failed(error: Error): void {
    const first = this.#error === null;
    this.#error = error;
    if (first) this.#options.onWritable?.(false, error);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#pending.length > 0) this.flush();
      else if (this.#cursorDirty) this.commit(this.#cursor);
      else this.#recovered();
    }, this.#retryMs);
    this.#retryTimer.unref();
  }

  #recovered(): void {
    if (this.#error === null || this.#cursorDirty) return;
    this.#error = null;
    this.#options.onWritable?.(true, null);
  }

  #writeCursor(): void {
    const tmp = join(this.#dir, "cursor.json.tmp");
    const fd = openSync(tmp, "w", 0o600);
    try {
      const text = Buffer.from(JSON.stringify(this.#cursor));
      let done = 0;
      while (done < text.length) done += writeSync(fd, text, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.#dir, "cursor.json"));
  }

  #decode(line: Buffer): { ok: true; value: T } | { ok: false; error: string } {
    try {
      const value: unknown = JSON.parse(UTF8.decode(line));
      return { ok: true, value: this.#options.parse ? this.#options.parse(value) : (value as T) };
    } catch (error) {
      return { ok: false, error: (error as Error).message.slice(0, 500) };
    }
  }

  #unreadable(segment: number, offset: number, bytes: Buffer, error: string): void {
    const key = `${segment}:${offset}`;
    if (this.#quarantined.has(key)) return;
    this.#quarantined.add(key);
    this.#options.quarantine?.add(`unreadable: ${error}`, [
      { line: bytes.subarray(0, MAX_QUARANTINED_LINE).toString("utf8") },
    ]);
    this.#options.onCorrupt?.(1);
  }

  /** Deletes the oldest closed segment; false when only the open one is left. */
  #dropOldest(): boolean {
    const oldest = this.#segments()[0];
    if (oldest === undefined || oldest === this.#segment) return false;
    const path = join(this.#dir, name(oldest));
    const lines = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.length > 0).length;
    this.#totalBytes -= this.#size(oldest);
    unlinkSync(path);
    if (this.#cursor.segment <= oldest) this.#cursor = { segment: oldest + 1, offset: 0 };
    this.#options.onDrop?.(lines, "rotated_out");
    return true;
  }

  #endsWithNewline(n: number): boolean {
    const data = readFileSync(join(this.#dir, name(n)));
    return data.length === 0 || data[data.length - 1] === NEWLINE;
  }

  #segments(): number[] {
    return readdirSync(this.#dir)
      .map((f) => SEGMENT.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  #size(n: number): number {
    try {
      return statSync(join(this.#dir, name(n))).size;
    } catch {
      return 0;
    }
  }

  #readCursor(): SpoolCursor | undefined {
    try {
      const parsed = JSON.parse(
        readFileSync(join(this.#dir, "cursor.json"), "utf8"),
      ) as SpoolCursor;
      if (Number.isInteger(parsed.segment) && Number.isInteger(parsed.offset)) return parsed;
    } catch {
      // No cursor yet (first start) or a torn write from before rename: start at the oldest segment.
    }
    return undefined;
  }
}

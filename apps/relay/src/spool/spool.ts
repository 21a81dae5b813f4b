import {
  closeSync,
  existsSync,
  fsyncSync,
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

export interface SpoolOptions {
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
  /** Told how many records the cap dropped and why. */
  onDrop?: (count: number, reason: "spool_full" | "rotated_out") => void;
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

const SEGMENT = /^segment-(\d{12})\.ndjson$/;
const name = (n: number) => `segment-${String(n).padStart(12, "0")}.ndjson`;

/**
 * An append-only on-disk queue of NDJSON records in size-rotated segments
 * with a committed read cursor. A record is written with write(2) in the
 * same tick it is appended (batched per tick), so a SIGKILL of the relay
 * loses nothing that reached the spool; the cursor advances only when a
 * consumer commits, so a crash between send and commit re-sends (the
 * control plane's insert is idempotent).
 */
export class Spool<T> {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #maxBytes: number;
  readonly #overflow: "drop-newest" | "drop-oldest";
  readonly #onDrop: SpoolOptions["onDrop"];
  #fd: number;
  #segment: number;
  #segmentSize: number;
  #totalBytes: number;
  #pending: string[] = [];
  #flushScheduled = false;
  #cursor: SpoolCursor;
  #closed = false;

  constructor(options: SpoolOptions) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#overflow = options.overflow ?? "drop-newest";
    this.#onDrop = options.onDrop;
    mkdirSync(this.#dir, { recursive: true });
    const segments = this.#segments();
    this.#cursor = this.#readCursor() ?? { segment: segments[0] ?? 1, offset: 0 };
    this.#segment = segments.at(-1) ?? 1;
    this.#fd = openSync(join(this.#dir, name(this.#segment)), "a", 0o600);
    this.#segmentSize = statSync(join(this.#dir, name(this.#segment))).size;
    this.#totalBytes = segments.reduce((sum, n) => sum + this.#size(n), 0);
  }

  /** Queues a record; it is on disk before the next turn of the event loop. */
  append(record: T): void {
    if (this.#closed) return;
    this.#pending.push(`${JSON.stringify(record)}\n`);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes queued records now. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 || this.#closed) return;
    const lines = this.#pending;
    this.#pending = [];
    let chunk = "";
    for (const line of lines) {
      if (this.#totalBytes + chunk.length + line.length > this.#maxBytes) {
        if (this.#overflow === "drop-newest") {
          this.#onDrop?.(1, "spool_full");
          continue;
        }
        this.#write(chunk);
        chunk = "";
        if (!this.#dropOldest()) {
          this.#onDrop?.(1, "spool_full");
          continue;
        }
      }
      chunk += line;
      if (this.#segmentSize + chunk.length >= this.#segmentBytes) {
        this.#write(chunk);
        chunk = "";
        this.#rotate();
      }
    }
    this.#write(chunk);
  }

  /** Reads up to `max` records after the committed cursor (or `from`). */
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
      const text = readFileSync(path).subarray(offset).toString("utf8");
      let start = 0;
      while (records.length < max) {
        const end = text.indexOf("\n", start);
        if (end === -1) break;
        const line = text.slice(start, end);
        if (line.length > 0) records.push(JSON.parse(line) as T);
        start = end + 1;
      }
      offset += Buffer.byteLength(text.slice(0, start));
      if (records.length >= max || segment >= this.#segment) break;
      segment += 1;
      offset = 0;
    }
    return { records, next: { segment, offset } };
  }

  /** Records that `next` was delivered: persists the cursor and deletes consumed segments. */
  commit(next: SpoolCursor): void {
    this.#cursor = next;
    const tmp = join(this.#dir, "cursor.json.tmp");
    const fd = openSync(tmp, "w", 0o600);
    writeSync(fd, JSON.stringify(next));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.#dir, "cursor.json"));
    for (const n of this.#segments()) {
      if (n < next.segment) {
        this.#totalBytes -= this.#size(n);
        unlinkSync(join(this.#dir, name(n)));
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
    return total + this.#pending.reduce((sum, l) => sum + l.length, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }

  #write(chunk: string): void {
    if (chunk.length === 0) return;
    const bytes = Buffer.from(chunk);
    writeSync(this.#fd, bytes);
    this.#segmentSize += bytes.length;
    this.#totalBytes += bytes.length;
  }

  #rotate(): void {
    closeSync(this.#fd);
    this.#segment += 1;
    this.#fd = openSync(join(this.#dir, name(this.#segment)), "a", 0o600);
    this.#segmentSize = 0;
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
    this.#onDrop?.(lines, "rotated_out");
    return true;
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

import { appendFileSync, existsSync, readFileSync, statSync } from "node:fs";

export interface QuarantineOptions {
  /** The quarantine file (NDJSON, one entry a line). */
  path: string;
  /** The file grows to this size at most; entries past it are counted and dropped. @default 64 MiB */
  maxBytes?: number;
  /** Told about every entry the file could not take (full, or a disk error). */
  onDrop?: (count: number, reason: "quarantine_full" | "disk_error") => void;
}

/** One line of the quarantine file. */
export interface QuarantineEntry {
  at: string;
  /** Why the records are here: `refused: …` (by ingest) or `unreadable: …` (the spool). */
  reason: string;
  /** The refused record, or the raw spool line that did not parse. */
  record?: unknown;
  line?: string;
}

/**
 * Records the relay must not send again but must not lose either: a record the control plane
 * refused as invalid, a spool line a crash or a disk error tore. An operator reads the file,
 * fixes what is wrong and replays or deletes it; `size` (lines in the file) is what the
 * heartbeat reports, so the count survives restarts and falls only when the file is handled.
 */
export class Quarantine {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #onDrop: QuarantineOptions["onDrop"];
  #bytes = 0;
  #size = 0;

  constructor(options: QuarantineOptions) {
    this.#path = options.path;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#onDrop = options.onDrop;
    if (existsSync(this.#path)) {
      this.#bytes = statSync(this.#path).size;
      const text = readFileSync(this.#path, "utf8");
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) this.#size += 1;
    }
  }

  /** Entries in the file. */
  get size(): number {
    return this.#size;
  }

  get path(): string {
    return this.#path;
  }

  /**
   * Appends entries. `full`: over maxBytes, given up (counted through onDrop); `disk_error`:
   * not written (counted too), the caller may keep them and try again.
   */
  add(reason: string, items: { record?: unknown; line?: string }[]): "ok" | "full" | "disk_error" {
    if (items.length === 0) return "ok";
    const at = new Date().toISOString();
    const text = items
      .map((item) => `${JSON.stringify({ at, reason, ...item } satisfies QuarantineEntry)}\n`)
      .join("");
    const bytes = Buffer.byteLength(text);
    if (this.#bytes + bytes > this.#maxBytes) {
      this.#onDrop?.(items.length, "quarantine_full");
      return "full";
    }
    try {
      appendFileSync(this.#path, text, { mode: 0o600 });
    } catch {
      this.#onDrop?.(items.length, "disk_error");
      return "disk_error";
    }
    this.#bytes += bytes;
    this.#size += items.length;
    return "ok";
  }
}

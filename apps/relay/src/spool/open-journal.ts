import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import type { SessionRecord } from "../session/record";

/** What the journal needs of an open session to tell whether it moved. */
export interface OpenSession {
  readonly id: string;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface OpenJournalOptions<S extends OpenSession> {
  /** The journal file (NDJSON), next to the spool. */
  path: string;
  /** The sessions open now (in every worker thread). */
  sessions: () => Promise<Iterable<S>>;
  /** The record a session would leave if it ended now (status failed, reason interrupted). */
  describe: (session: S, endedAtMs: number) => SessionRecord;
  /** How often new and ended sessions are checkpointed. @default 2000 (ms) */
  checkpointMs?: number;
  /** A session's bytes are checkpointed again at most this often. @default 10000 (ms) */
  bytesEveryMs?: number;
  /** Rewritten with only the open sessions past this size. @default 4 MiB */
  compactBytes?: number;
}

type Line = { o: SessionRecord } | { c: string };

/**
 * Lets a relay that was SIGKILLed (or lost its host) still record the sessions it had open.
 * Every checkpoint appends the sessions opened since the last one, and again those whose bytes
 * moved, as the record they would leave if they ended now (`failed`, `interrupted`, the bytes
 * so far), and marks those that ended. A restart turns what is still open into records. A
 * session shorter than one checkpoint never touches the file: it ends with a normal record.
 */
export class OpenJournal<S extends OpenSession> {
  readonly #options: Required<OpenJournalOptions<S>>;
  /** Journaled open sessions: the bytes journaled for each, and when. */
  readonly #journaled = new Map<string, { bytes: number; atMs: number }>();
  #running: Promise<void> | undefined;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: OpenJournalOptions<S>) {
    this.#options = {
      checkpointMs: 2000,
      bytesEveryMs: 10_000,
      compactBytes: 4 * 1024 * 1024,
      ...options,
    };
  }

  /**
   * The sessions a previous run left open, as `interrupted` records (ended at their last
   * checkpoint), and a fresh journal. Call before any session starts.
   */
  static recover(path: string): SessionRecord[] {
    if (!existsSync(path)) return [];
    const open = new Map<string, SessionRecord>();
    for (const text of readFileSync(path, "utf8").split("\n")) {
      if (text === "") continue;
      try {
        const line = JSON.parse(text) as Line;
        if ("c" in line) open.delete(line.c);
        else open.set(line.o.id, line.o);
      } catch {
        // A line torn by the kill: the checkpoint before it stands.
      }
    }
    try {
      unlinkSync(path);
    } catch {
      // A read-only state dir: the next start finds them again (ingest is idempotent by id).
    }
    return [...open.values()];
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.checkpoint().finally(() => (this.#running = undefined));
    }, this.#options.checkpointMs);
    this.#timer.unref();
  }

  /** Appends what changed since the last checkpoint (best effort: a full disk skips one). */
  async checkpoint(): Promise<void> {
    const { describe, compactBytes, bytesEveryMs } = this.#options;
    const open = [...(await this.#options.sessions())];
    const now = Date.now();
    const lines: Line[] = [];
    const seen = new Set<string>();
    for (const session of open) {
      seen.add(session.id);
      const bytes = session.bytesUp + session.bytesDown;
      const last = this.#journaled.get(session.id);
      if (last !== undefined && (last.bytes === bytes || now - last.atMs < bytesEveryMs)) continue;
      lines.push({ o: describe(session, now) });
      this.#journaled.set(session.id, { bytes, atMs: now });
    }
    for (const id of this.#journaled.keys()) {
      if (seen.has(id)) continue;
      lines.push({ c: id });
      this.#journaled.delete(id);
    }
    if (lines.length === 0) return;
    try {
      if (this.#bytes > compactBytes) this.#compact(open, now);
      else this.#append(lines);
    } catch {
      // Not written: the next checkpoint writes these sessions again.
      this.#journaled.clear();
    }
  }

  /** A clean stop: every session has ended with its own record. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    try {
      unlinkSync(this.#options.path);
    } catch {
      // Never written.
    }
  }

  #append(lines: Line[]): void {
    const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    const fd = openSync(this.#options.path, "a", 0o600);
    try {
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done);
    } finally {
      closeSync(fd);
    }
    this.#bytes += data.length;
  }

  #compact(open: S[], now: number): void {
    const { path, describe } = this.#options;
    const lines = open.map((s) => `${JSON.stringify({ o: describe(s, now) })}\n`);
    const data = Buffer.from(lines.join(""));
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    this.#bytes = data.length;
  }
}

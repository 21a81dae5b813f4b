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

/** What the journal needs of an open session: its record as it would be if it ended now. */
export interface OpenSession {
  readonly id: string;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface OpenJournalOptions<S extends OpenSession> {
  /** The journal file (NDJSON), next to the spool. */
  path: string;
  /** The sessions open now. */
  sessions: () => Iterable<S>;
  /** The record a session would leave if it ended now (status failed, reason interrupted). */
  describe: (session: S, endedAtMs: number) => SessionRecord;
  /** How often open sessions are checkpointed. @default 2000 (ms) */
  checkpointMs?: number;
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
  /** Journaled open sessions and the bytes journaled for each. */
  readonly #journaled = new Map<string, number>();
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: OpenJournalOptions<S>) {
    this.#options = { checkpointMs: 2000, compactBytes: 4 * 1024 * 1024, ...options };
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
    unlinkSync(path);
    return [...open.values()];
  }

  start(): void {
    this.#timer = setInterval(() => this.checkpoint(), this.#options.checkpointMs);
    this.#timer.unref();
  }

  /** Appends what changed since the last checkpoint (best effort: a full disk skips one). */
  checkpoint(): void {
    const { sessions, describe, compactBytes } = this.#options;
    const now = Date.now();
    const lines: Line[] = [];
    const seen = new Set<string>();
    for (const session of sessions()) {
      seen.add(session.id);
      const bytes = session.bytesUp + session.bytesDown;
      if (this.#journaled.get(session.id) === bytes) continue;
      lines.push({ o: describe(session, now) });
      this.#journaled.set(session.id, bytes);
    }
    for (const id of this.#journaled.keys()) {
      if (seen.has(id)) continue;
      lines.push({ c: id });
      this.#journaled.delete(id);
    }
    if (lines.length === 0) return;
    try {
      if (this.#bytes > compactBytes) this.#compact(sessions, now);
      else this.#append(lines);
    } catch {
      // Not written: the next checkpoint writes these sessions again.
      this.#journaled.clear();
    }
  }

  /** A clean stop: every session has ended with its own record. */
  close(): void {
    clearInterval(this.#timer);
    try {
      unlinkSync(this.#options.path);
    } catch {
      // Never written.
    }
  }

  #append(lines: Line[]): void {
    const data = Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    const fd = openSync(this.#options.path, "a");
    try {
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done);
    } finally {
      closeSync(fd);
    }
    this.#bytes += data.length;
  }

  #compact(sessions: () => Iterable<S>, now: number): void {
    const { path, describe } = this.#options;
    const lines = [...sessions()].map((s) => `${JSON.stringify({ o: describe(s, now) })}\n`);
    const data = Buffer.from(lines.join(""));
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w");
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

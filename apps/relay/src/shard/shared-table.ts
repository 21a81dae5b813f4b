/**
 * A hash table of small integer rows in shared memory, so every worker thread
 * of one relay counts against the same numbers. Keys are strings (user names,
 * client addresses) stored as two independent 32-bit hashes: two different
 * keys would have to collide in 64 bits to share a row. Rows whose values are
 * all zero are removed (backward-shift deletion, no tombstones), so the table
 * holds only keys in use and its size bounds the distinct keys in use at once.
 *
 * Not thread-safe on its own: callers hold the SharedLock around every call.
 */
export class SharedTable {
  readonly #view: Int32Array;
  readonly #offset: number;
  readonly #mask: number;
  readonly #rowInts: number;

  /** Int32 slots a table of `rows` rows (a power of two) of `width` values needs. */
  static ints(rows: number, width: number): number {
    return rows * (2 + width);
  }

  constructor(
    view: Int32Array,
    offset: number,
    rows: number,
    readonly width: number,
  ) {
    if (rows < 2 || (rows & (rows - 1)) !== 0) throw new Error("rows must be a power of two");
    this.#view = view;
    this.#offset = offset;
    this.#mask = rows - 1;
    this.#rowInts = 2 + width;
  }

  /** The row of `key`, or -1. */
  find(key: string): number {
    const h1 = hash1(key);
    const h2 = hash2(key);
    const view = this.#view;
    for (let i = h1 & this.#mask, probes = 0; probes <= this.#mask; probes++) {
      const at = this.#at(i);
      const k1 = view[at]!;
      const k2 = view[at + 1]!;
      if (k1 === 0 && k2 === 0) return -1;
      if (k1 === h1 && k2 === h2) return i;
      i = (i + 1) & this.#mask;
    }
    return -1;
  }

  /** The row of `key`, inserted with zero values when absent; -1 when the table is full. */
  upsert(key: string): number {
    return this.#upsertHashed(hash1(key), hash2(key));
  }

  #upsertHashed(h1: number, h2: number): number {
    const view = this.#view;
    for (let i = h1 & this.#mask, probes = 0; probes <= this.#mask; probes++) {
      const at = this.#at(i);
      const k1 = view[at]!;
      const k2 = view[at + 1]!;
      if (k1 === h1 && k2 === h2) return i;
      if (k1 === 0 && k2 === 0) {
        view[at] = h1;
        view[at + 1] = h2;
        view.fill(0, at + 2, at + this.#rowInts);
        return i;
      }
      i = (i + 1) & this.#mask;
    }
    return -1;
  }

  get(row: number, column: number): number {
    return this.#view[this.#at(row) + 2 + column]!;
  }

  set(row: number, column: number, value: number): void {
    this.#view[this.#at(row) + 2 + column] = value;
  }

  /** Sum of a row's values. */
  total(row: number): number {
    const at = this.#at(row) + 2;
    let sum = 0;
    for (let c = 0; c < this.width; c++) sum += this.#view[at + c]!;
    return sum;
  }

  /** Sets `column` to zero in every row (a worker thread that died) and drops rows left empty. */
  clearColumn(column: number): void {
    const view = this.#view;
    const rows: Int32Array[] = [];
    for (let row = 0; row <= this.#mask; row++) {
      const at = this.#at(row);
      if (view[at] === 0 && view[at + 1] === 0) continue;
      view[at + 2 + column] = 0;
      rows.push(view.slice(at, at + this.#rowInts));
    }
    // Rebuilt rather than pruned in place: deletions shift rows the scan has passed.
    view.fill(0, this.#offset, this.#at(this.#mask + 1));
    for (const saved of rows) {
      let live = false;
      for (let c = 2; c < this.#rowInts; c++) if (saved[c] !== 0) live = true;
      if (!live) continue;
      const row = this.#upsertHashed(saved[0]!, saved[1]!);
      view.set(saved, this.#at(row));
    }
  }

  /** Removes the row if every value is zero. */
  prune(row: number): void {
    const view = this.#view;
    const at = this.#at(row) + 2;
    for (let c = 0; c < this.width; c++) if (view[at + c] !== 0) return;
    // Backward-shift deletion: pull later rows of the same probe run into the
    // hole unless their home lies cyclically in (hole, row], so every key stays
    // reachable from its home without tombstones.
    let hole = row;
    let next = row;
    for (;;) {
      next = (next + 1) & this.#mask;
      const nextAt = this.#at(next);
      if (view[nextAt] === 0 && view[nextAt + 1] === 0) break;
      const home = view[nextAt]! & this.#mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      view.copyWithin(this.#at(hole), nextAt, nextAt + this.#rowInts);
      hole = next;
    }
    view.fill(0, this.#at(hole), this.#at(hole) + this.#rowInts);
  }

  #at(row: number): number {
    return this.#offset + row * this.#rowInts;
  }
}

// FNV-1a over UTF-16 code units, and a second multiplicative hash with another
// seed: together a 64-bit key. (0, 0) marks an empty row, so hash2 is never 0.
export function hash1(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export function hash2(key: string): number {
  let h = 0x9e3779b9 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h | 1;
}

/**
 * A mutex in one Int32 of shared memory. Critical sections here are a few
 * table operations (well under a microsecond), so contention is rare and a
 * waiter sleeps on Atomics.wait rather than burning its core.
 */
export class SharedLock {
  constructor(
    private readonly view: Int32Array,
    private readonly index: number,
  ) {}

  run<T>(critical: () => T): T {
    this.lock();
    try {
      return critical();
    } finally {
      this.unlock();
    }
  }

  /** For the per-session paths, which should not allocate a closure for run(). */
  lock(): void {
    const { view, index } = this;
    while (Atomics.compareExchange(view, index, 0, 1) !== 0) {
      Atomics.wait(view, index, 1, 1);
    }
  }

  unlock(): void {
    Atomics.store(this.view, this.index, 0);
    Atomics.notify(this.view, this.index, 1);
  }
}

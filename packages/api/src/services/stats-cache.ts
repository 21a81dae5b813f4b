/** One rollup bucket of one dimension (user or host), as cached: parallel arrays, one per row. */
export interface CachedBucket {
  /** Changes whenever the bucket's rows do (see statsSummary). */
  version: string;
  keyIds: Int32Array;
  /** Interned `node\0region` of each row. */
  placeIds: Int32Array;
  sessions: Float64Array;
  bytes: Float64Array;
}

/** Strings to small integers, so that sums over many buckets are array additions. */
export class Interner {
  readonly ids = new Map<string, number>();
  readonly values: string[] = [];

  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.ids.set(value, id);
      this.values.push(value);
    }
    return id;
  }
}

export interface BucketCacheOptions {
  /** Cached rows (over every bucket) before the least recently used buckets go. @default 1000000 */
  maxRows?: number;
  /** Distinct keys remembered before the cache starts over. @default 1000000 */
  maxKeys?: number;
}

/**
 * Rollup buckets of the user and host dimensions, kept between stats.summary calls: a past hour
 * or day rarely changes, and re-reading its thousands of rows for every call is most of the
 * cost of a top list. Each entry carries the bucket's version; a reader uses it only when the
 * database reports the same version in the reader's own snapshot, so the cache is never stale.
 */
export class BucketCache {
  readonly maxRows: number;
  readonly maxKeys: number;
  #entries = new Map<string, CachedBucket>();
  #rows = 0;
  keys = new Interner();
  places = new Interner();

  constructor(options: BucketCacheOptions = {}) {
    this.maxRows = options.maxRows ?? 1_000_000;
    this.maxKeys = options.maxKeys ?? 1_000_000;
  }

  static key(dimension: string, grainMs: number, bucketMs: number): string {
    return `${dimension}:${grainMs}:${bucketMs}`;
  }

  /** The entry if it has `version` (and marks it recently used). */
  get(key: string, version: string): CachedBucket | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.version !== version) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: CachedBucket): void {
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#rows -= old.keyIds.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, entry);
    this.#rows += entry.keyIds.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#rows <= this.maxRows || oldest === key) break;
      this.#entries.delete(oldest);
      this.#rows -= value.keyIds.length;
    }
  }

  /** Forgets everything once too many distinct keys were interned (ids index into arrays). */
  trim(): void {
    if (this.keys.values.length <= this.maxKeys) return;
    this.#entries.clear();
    this.#rows = 0;
    this.keys = new Interner();
    this.places = new Interner();
  }

  get rows(): number {
    return this.#rows;
  }
}

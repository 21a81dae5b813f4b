// Address and CIDR text is parsed by @edgesocks/socks/address; these are the ACL's lookup tables.

/**
 * Items of type T grouped by IPv4 network: one Map per prefix length present, keyed by the
 * network's top `prefix` bits (`address >>> shift`), so a lookup costs one Map probe per prefix
 * length, and keys up to /30 stay small integers (no boxing).
 */
export class V4Table<T> {
  /** 32 - prefix length, per Map. */
  readonly shifts: number[] = [];
  readonly maps: Map<number, T[]>[] = [];
  readonly #byPrefix = new Map<number, Map<number, T[]>>();

  add(net: number, prefix: number, item: T): void {
    let map = this.#byPrefix.get(prefix);
    if (!map) {
      map = new Map();
      this.#byPrefix.set(prefix, map);
      this.shifts.push(32 - prefix);
      this.maps.push(map);
    }
    const key = prefix === 0 ? 0 : net >>> (32 - prefix);
    const bucket = map.get(key);
    if (!bucket) map.set(key, [item]);
    else if (bucket[bucket.length - 1] !== item) bucket.push(item);
  }

  get size(): number {
    return this.maps.length;
  }
}

/** A bucket of one IPv6 network; the network words are kept to rule out hash collisions. */
export interface V6Bucket<T> {
  readonly net: Uint32Array;
  readonly items: T[];
}

/** Small-integer hash of four words, so Map keys stay small integers (no boxing). */
export function hashV6(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x2545f491, 0x9e3779b1);
  h = Math.imul(h ^ w1, 0x85ebca6b);
  h = Math.imul(h ^ w2, 0xc2b2ae35);
  h = Math.imul(h ^ w3, 0x27d4eb2f);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** Items grouped by IPv6 network: one Map per prefix length, keyed by a hash of the network. */
export class V6Table<T> {
  readonly prefixes: number[] = [];
  readonly maps: Map<number, V6Bucket<T>[]>[] = [];
  readonly #byPrefix = new Map<number, Map<number, V6Bucket<T>[]>>();

  add(net: Uint32Array, prefix: number, item: T): void {
    let map = this.#byPrefix.get(prefix);
    if (!map) {
      map = new Map();
      this.#byPrefix.set(prefix, map);
      this.prefixes.push(prefix);
      this.maps.push(map);
    }
    const key = hashV6(net[0]!, net[1]!, net[2]!, net[3]!);
    let chain = map.get(key);
    if (!chain) {
      chain = [];
      map.set(key, chain);
    }
    let bucket = chain.find(
      (b) =>
        b.net[0] === net[0] && b.net[1] === net[1] && b.net[2] === net[2] && b.net[3] === net[3],
    );
    if (!bucket) {
      bucket = { net, items: [] };
      chain.push(bucket);
    }
    if (bucket.items[bucket.items.length - 1] !== item) bucket.items.push(item);
  }

  get size(): number {
    return this.maps.length;
  }
}

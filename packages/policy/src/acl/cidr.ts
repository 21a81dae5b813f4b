import { isIpv4Mapped, maskV4, maskV6Word, parseIpv4, parseIpv6 } from "./ip";

/** An address or network in a rule; a single address is a /32 or /128. */
export type IpNetwork =
  | { readonly family: 4; readonly net: number; readonly prefix: number }
  | { readonly family: 6; readonly net: Uint32Array; readonly prefix: number };

export type NetworkResult = { ok: true; network: IpNetwork } | { ok: false; error: string };

function parsePrefix(text: string, max: number): number {
  if (text.length === 0 || text.length > 3) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value > max ? -1 : value;
}

function v6Network(words: Uint32Array, prefix: number): IpNetwork {
  // ::ffff:0:0/96 and anything inside it is IPv4 space, matched as IPv4.
  if (prefix >= 96 && isIpv4Mapped(words)) {
    const v4Prefix = prefix - 96;
    return { family: 4, net: (words[3]! & maskV4(v4Prefix)) >>> 0, prefix: v4Prefix };
  }
  const net = new Uint32Array(4);
  for (let i = 0; i < 4; i++) net[i] = (words[i]! & maskV6Word(prefix, i)) >>> 0;
  return { family: 6, net, prefix };
}

/**
 * Parses an IP literal or a CIDR. Host bits below the prefix are ignored ("10.1.2.3/8" is
 * 10.0.0.0/8), as RustSocks (ipnet) does.
 */
export function parseNetwork(text: string): NetworkResult {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  const v4 = parseIpv4(address);
  const isV6 = v4 < 0 && parseIpv6(address, words);
  if (v4 < 0 && !isV6) {
    if (slash >= 0) return { ok: false, error: `"${text}" is not a valid CIDR` };
    const kind = address.includes(":") ? "IPv6" : "IPv4";
    return { ok: false, error: `"${text}" is not a valid ${kind} address` };
  }
  const max = isV6 ? 128 : 32;
  const prefix = slash < 0 ? max : parsePrefix(text.slice(slash + 1), max);
  if (prefix < 0) {
    return { ok: false, error: `"${text}" is not a valid CIDR (prefix must be 0-${max})` };
  }
  if (isV6) return { ok: true, network: v6Network(words, prefix) };
  return { ok: true, network: { family: 4, net: (v4 & maskV4(prefix)) >>> 0, prefix } };
}

export function v4InNetwork(address: number, prefix: number, net: number): boolean {
  return (address & maskV4(prefix)) >>> 0 === net;
}

export function v6InNetwork(address: Uint32Array, prefix: number, net: Uint32Array): boolean {
  for (let i = 0; i < 4; i++) {
    if ((address[i]! & maskV6Word(prefix, i)) >>> 0 !== net[i]) return false;
  }
  return true;
}

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

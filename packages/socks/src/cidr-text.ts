import { isIpv4Mapped, maskV4, maskV6Word, parseIpv4, parseIpv6Words } from "./ip-text";

/** An address or network; a single address is a /32 or /128. */
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
 * Parses an IP literal or a CIDR (no zone id). Host bits below the prefix are ignored
 * ("10.1.2.3/8" is 10.0.0.0/8), as RustSocks (ipnet) does; IPv4-mapped IPv6 networks are IPv4.
 */
export function parseNetwork(text: string): NetworkResult {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  const v4 = parseIpv4(address);
  const isV6 = v4 < 0 && parseIpv6Words(address, words);
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

const scratch = new Uint32Array(4);

/**
 * Whether the IP literal `address` is inside `network`; IPv4-mapped IPv6 is matched as IPv4.
 * False when `address` is not an IP literal.
 */
export function networkContains(network: IpNetwork, address: string): boolean {
  const v4 = parseIpv4(address);
  if (v4 >= 0) return network.family === 4 && v4InNetwork(v4, network.prefix, network.net);
  if (!parseIpv6Words(address, scratch)) return false;
  if (isIpv4Mapped(scratch)) {
    return network.family === 4 && v4InNetwork(scratch[3]!, network.prefix, network.net);
  }
  return network.family === 6 && v6InNetwork(scratch, network.prefix, network.net);
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** The inclusive addressKey() range of a network, and its prefix length in the 128-bit space. */
export interface KeyRange {
  low: string;
  high: string;
  /** The prefix length in the 128-bit space (an IPv4 /24 is 120). */
  prefixBits: number;
}

/**
 * The inclusive addressKey() range of a CIDR (or a single address), so a database finds the
 * addresses inside it with one BETWEEN; null when `text` is neither.
 */
export function networkKeyRange(text: string): KeyRange | null {
  const parsed = parseNetwork(text);
  if (!parsed.ok) return null;
  const { network } = parsed;
  if (network.family === 4) {
    const high = (network.net | ~maskV4(network.prefix)) >>> 0;
    return {
      low: `00000000000000000000ffff${hex8(network.net)}`,
      high: `00000000000000000000ffff${hex8(high)}`,
      prefixBits: network.prefix + 96,
    };
  }
  let low = "";
  let high = "";
  for (let i = 0; i < 4; i++) {
    low += hex8(network.net[i]!);
    high += hex8(network.net[i]! | ~maskV6Word(network.prefix, i));
  }
  return { low, high, prefixBits: network.prefix };
}

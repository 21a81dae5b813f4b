import type { SocksAddress } from "@edgesocks/socks";
import {
  formatIpv4Value,
  ipFamily,
  isIpv4Mapped,
  parseIpv4,
  parseIpv6Words,
} from "@edgesocks/socks/address";

/**
 * What a client asked to reach, after normalisation: `address` is set when the
 * destination is (or turned out to be) an IP literal, and it is the exact
 * address that policy checks and the relay connects to.
 */
export type Destination =
  | { kind: "ip"; host: string; address: string; family: 4 | 6 }
  | { kind: "domain"; host: string };

export type DestinationResult =
  | { ok: true; destination: Destination }
  | { ok: false; reason: "empty" | "unspecified" | "invalid" };

/**
 * Normalises a requested host so policy sees the address the kernel would use.
 * getaddrinfo() accepts inet_aton() forms (`2130706433`, `127.1`, `0x7f.1`),
 * so a name that parses as one is checked and connected to as that IPv4
 * address, never resolved; IPv4-mapped IPv6 is treated as its IPv4 address;
 * the empty name and the unspecified addresses are refused because Node would
 * connect them to the relay host itself.
 */
export function normalizeDestination(rawHost: string): DestinationResult {
  // A strict dotted quad (every kernel-reported IPv4 address) is already what
  // the steps below would make of it, and they cost a regex or two each.
  if (parseIpv4(rawHost) >= 0) return ipResult(rawHost, 4);
  let host = rawHost.trim();
  if (host.length === 0) return { ok: false, reason: "empty" };
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.endsWith(".") && parseIpv4(host) < 0) host = host.slice(0, -1);
  if (host.length === 0) return { ok: false, reason: "empty" };

  if (ipFamily(host, { zone: true }) === 6) return ipv6Result(host);
  const v4 = parseInetAton(host);
  if (v4 !== undefined) return ipResult(v4, 4);
  if (host.includes("\0") || host.includes("/") || host.includes(" ")) {
    return { ok: false, reason: "invalid" };
  }
  return { ok: true, destination: { kind: "domain", host: host.toLowerCase() } };
}

/**
 * normalizeDestination() of a decoded request address. Binary IPv4 and IPv6
 * (ATYP 1 and 4, SOCKS4's DSTIP) arrive as canonical text already, so only
 * names go through the inet_aton and cleanup steps.
 */
export function normalizeRequestAddress(address: SocksAddress): DestinationResult {
  switch (address.type) {
    case "ipv4":
      return ipResult(address.host, 4);
    case "ipv6":
      return ipv6Result(address.host);
    default:
      return normalizeDestination(address.host);
  }
}

/** Whether `address` (an IP literal, zone id allowed) is IPv6. */
export function isIpv6Address(address: string): boolean {
  return ipFamily(address, { zone: true }) === 6;
}

/** `host` is valid IPv6 text (no brackets). */
function ipv6Result(host: string): DestinationResult {
  const mapped = ipv4FromMapped(host);
  if (mapped !== undefined) return ipResult(mapped, 4);
  const lower = host.toLowerCase();
  if (lower === "::" || /^[0:]+$/.test(lower)) return { ok: false, reason: "unspecified" };
  return ipResult(lower, 6);
}

function ipResult(address: string, family: 4 | 6): DestinationResult {
  if (family === 4 && address === "0.0.0.0") return { ok: false, reason: "unspecified" };
  return { ok: true, destination: { kind: "ip", host: address, address, family } };
}

const mappedWords = new Uint32Array(4);

/** `::ffff:a.b.c.d` and `::ffff:XXXX:XXXX` (in any IPv6 form) → `a.b.c.d`. */
export function ipv4FromMapped(ipv6: string): string | undefined {
  if (!parseIpv6Words(ipv6, mappedWords) || !isIpv4Mapped(mappedWords)) return undefined;
  return formatIpv4Value(mappedWords[3]!);
}

/**
 * The IPv4 address inet_aton() would make of `text` (1 to 4 parts, each
 * decimal, octal with a leading 0, or hex with 0x), or undefined.
 */
export function parseInetAton(text: string): string | undefined {
  const parts = text.split(".");
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    const value = parseAtonPart(part);
    if (value === undefined) return undefined;
    values.push(value);
  }
  const last = values.length - 1;
  let result = 0;
  for (let i = 0; i < last; i++) {
    const v = values[i]!;
    if (v > 255) return undefined;
    result += v * 256 ** (3 - i);
  }
  const tail = values[last]!;
  if (tail >= 256 ** (4 - last)) return undefined;
  result += tail;
  return `${(result >>> 24) & 255}.${(result >>> 16) & 255}.${(result >>> 8) & 255}.${result & 255}`;
}

function parseAtonPart(part: string): number | undefined {
  if (part.length === 0) return undefined;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits.length === 0) return 0;
    if (!/^[0-9a-f]+$/i.test(digits)) return undefined;
  } else if (part.length > 1 && part.startsWith("0")) {
    digits = part.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return undefined;
  } else if (!/^[0-9]+$/.test(digits)) {
    return undefined;
  }
  const value = Number.parseInt(digits, radix);
  return value <= 0xffffffff ? value : undefined;
}

/**
 * IP address text, allocation-free for the hot path (ACL, egress guard, destination parsing).
 * Addresses are numbers: IPv4 as an unsigned 32-bit value, IPv6 as four unsigned 32-bit words
 * (most significant first). Pure and browser-safe: no node: imports.
 */

/**
 * Parses `text[start, end)` as a dotted quad and returns it as an unsigned 32-bit value, or -1.
 * Leading zeros are refused, as node:net's isIPv4 refuses them: "010.0.0.1" would be octal to
 * inet_aton, so treating it as decimal here would name a different host than a resolver does.
 */
export function parseIpv4(text: string, start = 0, end: number = text.length): number {
  let value = 0;
  let i = start;
  for (let octets = 1; ; octets++) {
    const first = i;
    let octet = 0;
    while (i < end && i - first < 4) {
      const digit = text.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      octet = octet * 10 + digit;
      i++;
    }
    const digits = i - first;
    if (digits === 0 || digits > 3 || octet > 255) return -1;
    if (digits > 1 && text.charCodeAt(first) === 48) return -1;
    value = value * 256 + octet;
    if (octets === 4) return i === end ? value : -1;
    if (i >= end || text.charCodeAt(i) !== 46) return -1;
    i++;
  }
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

const groups = new Uint16Array(8);

/**
 * Parses `text[start, end)` as IPv6 (any valid form, any case, optional dotted IPv4 tail, no zone
 * id) into `out[0..3]`. Returns false for anything else; `out` may then hold partial output.
 */
export function parseIpv6Words(
  text: string,
  out: Uint32Array,
  start = 0,
  end: number = text.length,
): boolean {
  const length = end - start;
  // Longest form: six full groups and a dotted quad.
  if (length < 2 || length > 45) return false;
  let i = start;
  let count = 0;
  let gap = -1;
  if (text.charCodeAt(i) === 58) {
    if (text.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const first = i;
    let value = 0;
    while (i < end && i - first < 5) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 46) {
      // A dotted quad can only be the final 32 bits.
      if (count > 6) return false;
      const v4 = parseIpv4(text, first, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (i === first || i - first > 4 || count === 8) return false;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) {
    if (count !== 8) return false;
  } else {
    // "::" stands for at least one zero group.
    if (count > 7) return false;
    const tail = count - gap;
    groups.copyWithin(8 - tail, gap, count);
    groups.fill(0, gap, 8 - tail);
  }
  out[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
  out[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
  out[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
  out[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
  return true;
}

/** True for ::ffff:a.b.c.d, which reaches the IPv4 host a.b.c.d and is matched as it. */
export function isIpv4Mapped(words: Uint32Array): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

/** Network mask of a prefix length 0..32 as an unsigned 32-bit value. */
export function maskV4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Mask for word `index` (0..3) of an IPv6 prefix of length `prefix`. */
export function maskV6Word(prefix: number, index: number): number {
  const bits = prefix - index * 32;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/** Dotted-quad text of an unsigned 32-bit value. */
export function formatIpv4Value(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

// A zone id as node:net's isIP accepts it after an IPv6 address ("fe80::1%eth0").
const ZONE = /^%[0-9a-zA-Z\-.:]+$/;

export interface IpFamilyOptions {
  /** Accept an IPv6 zone id (`fe80::1%eth0`), as node:net's isIP does. @default false */
  zone?: boolean;
}

const scratch = new Uint32Array(4);

/**
 * 4 or 6 for IP literal text, 0 for anything else: node:net's isIP, with zone ids refused unless
 * `options.zone` (addresses compared or stored never carry one; a listen address may).
 */
export function ipFamily(text: string, options?: IpFamilyOptions): 0 | 4 | 6 {
  if (parseIpv4(text) >= 0) return 4;
  const percent = options?.zone ? text.indexOf("%") : -1;
  if (percent < 0) return parseIpv6Words(text, scratch) ? 6 : 0;
  return ZONE.test(text.slice(percent)) && parseIpv6Words(text, scratch, 0, percent) ? 6 : 0;
}

/** An IP literal as numbers: IPv4-mapped IPv6 is its IPv4 address. */
export type IpValue =
  | { readonly family: 4; readonly value: number }
  | { readonly family: 6; readonly words: Uint32Array };

/** Parses an IP literal (no zone id); IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4. */
export function parseIp(text: string): IpValue | null {
  const v4 = parseIpv4(text);
  if (v4 >= 0) return { family: 4, value: v4 };
  const words = new Uint32Array(4);
  if (!parseIpv6Words(text, words)) return null;
  if (isIpv4Mapped(words)) return { family: 4, value: words[3]! };
  return { family: 6, words };
}

const HEX4: readonly string[] = Array.from({ length: 65536 }, (_, i) => i.toString(16));

/**
 * The bucket one client counts in for per-address limits: an IPv4 address itself (also when
 * IPv4-mapped), an IPv6 address by its /64 (one host usually holds a whole /64, so per-address
 * limits would be per-/64 anyway), as `2001:db8:0:1::/64`; a zone id is ignored. Null when
 * `text` is not an IP literal.
 */
export function ipBucketKey(text: string): string | null {
  const percent = text.indexOf("%");
  const ip = parseIp(percent < 0 ? text : text.slice(0, percent));
  if (ip === null) return null;
  if (ip.family === 4) return formatIpv4Value(ip.value);
  const [w0, w1] = ip.words;
  return `${HEX4[w0! >>> 16]}:${HEX4[w0! & 0xffff]}:${HEX4[w1! >>> 16]}:${HEX4[w1! & 0xffff]}::/64`;
}

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, "0"),
);

function hexWord(value: number): string {
  return (
    HEX2[value >>> 24]! +
    HEX2[(value >>> 16) & 0xff]! +
    HEX2[(value >>> 8) & 0xff]! +
    HEX2[value & 0xff]!
  );
}

/**
 * An IP address as 32 hex digits of its 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d), so that
 * every CIDR is one contiguous, index-friendly text range; a zone id is ignored. Null when
 * `text` is not an IP literal.
 */
export function addressKey(text: string | null): string | null {
  if (text === null) return null;
  const v4 = parseIpv4(text);
  if (v4 >= 0) return `00000000000000000000ffff${hexWord(v4)}`;
  const percent = text.indexOf("%");
  const ip = parseIp(percent < 0 ? text : text.slice(0, percent));
  if (ip === null) return null;
  if (ip.family === 4) return `00000000000000000000ffff${hexWord(ip.value)}`;
  return (
    hexWord(ip.words[0]!) + hexWord(ip.words[1]!) + hexWord(ip.words[2]!) + hexWord(ip.words[3]!)
  );
}

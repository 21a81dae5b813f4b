import { parseIpv4 } from "@edgesocks/socks/ipv4";

/**
 * Allocation-free IP text parsers for the hot path. Addresses are numbers: IPv4 as an unsigned
 * 32-bit value, IPv6 as four unsigned 32-bit words (most significant first).
 */

// The dotted-quad parser is the codec's (same rules: no leading zeros, no short forms).
export { parseIpv4 };

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
export function parseIpv6(
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
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

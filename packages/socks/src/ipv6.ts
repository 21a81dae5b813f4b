import { formatIpv4, parseIpv4, writeIpv4 } from "./ipv4";

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16));
const HEX_PADDED: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, "0"),
);

function hexWord(buf: Uint8Array, pos: number): string {
  const high = buf[pos]!;
  const low = buf[pos + 1]!;
  return high === 0 ? HEX[low]! : HEX[high]! + HEX_PADDED[low]!;
}

/**
 * Canonical text of the 16 bytes at `pos`, exactly as node:net prints it (libuv's inet_ntop):
 * lowercase, no leading zeros, the first longest run of two or more zero groups as "::", and a
 * dotted tail for IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) addresses.
 */
export function formatIpv6(buf: Uint8Array, pos: number): string {
  let bestBase = -1;
  let bestLength = 0;
  let runBase = -1;
  for (let i = 0; i <= 8; i++) {
    const zero = i < 8 && buf[pos + 2 * i] === 0 && buf[pos + 2 * i + 1] === 0;
    if (zero) {
      if (runBase < 0) runBase = i;
    } else if (runBase >= 0) {
      if (i - runBase > bestLength) {
        bestBase = runBase;
        bestLength = i - runBase;
      }
      runBase = -1;
    }
  }
  if (bestLength < 2) bestBase = -1;
  if (bestBase === 0) {
    if (bestLength === 6) return `::${formatIpv4(buf, pos + 12)}`;
    if (bestLength === 5 && buf[pos + 10] === 0xff && buf[pos + 11] === 0xff) {
      return `::ffff:${formatIpv4(buf, pos + 12)}`;
    }
  }
  let text = "";
  let separator = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      text += "::";
      separator = "";
      i += bestLength - 1;
      continue;
    }
    text += separator + hexWord(buf, pos + 2 * i);
    separator = ":";
  }
  return text;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Longest IPv6 text without a zone: six full groups and a dotted quad. */
const MAX_IPV6_TEXT = 45;

/**
 * Parses IPv6 text (any valid form, any case, optional dotted IPv4 tail, no zone id) into the
 * 16 bytes at `out[pos]`. Returns false for anything else; `out` may then hold partial output.
 */
export function parseIpv6(text: string, out: Uint8Array, pos: number): boolean {
  const end = text.length;
  if (end < 2 || end > MAX_IPV6_TEXT) return false;
  let i = 0;
  let words = 0;
  let gap = -1;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
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
      if (words > 6) return false;
      const v4 = parseIpv4(text, first, end);
      if (v4 < 0) return false;
      writeIpv4(out, pos + 2 * words, v4);
      words += 2;
      break;
    }
    if (i === first || i - first > 4 || words === 8) return false;
    out[pos + 2 * words] = value >>> 8;
    out[pos + 2 * words + 1] = value & 0xff;
    words++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = words;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return words === 8;
  // "::" stands for at least one zero group.
  if (words > 7) return false;
  const tailBytes = 2 * (words - gap);
  out.copyWithin(pos + 16 - tailBytes, pos + 2 * gap, pos + 2 * words);
  out.fill(0, pos + 2 * gap, pos + 16 - tailBytes);
  return true;
}

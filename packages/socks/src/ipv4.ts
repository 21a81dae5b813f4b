const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted-quad text of the four bytes at `pos`. */
export function formatIpv4(buf: Uint8Array, pos: number): string {
  return `${DECIMAL[buf[pos]!]}.${DECIMAL[buf[pos + 1]!]}.${DECIMAL[buf[pos + 2]!]}.${DECIMAL[buf[pos + 3]!]}`;
}

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

export function writeIpv4(out: Uint8Array, pos: number, value: number): void {
  out[pos] = value >>> 24;
  out[pos + 1] = (value >>> 16) & 0xff;
  out[pos + 2] = (value >>> 8) & 0xff;
  out[pos + 3] = value & 0xff;
}

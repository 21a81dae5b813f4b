import { parseIpv4 } from "./ip-text";

// The text parser lives with the other address text (ip-text.ts); the codecs import it from here.
export { parseIpv4 };

const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted-quad text of the four bytes at `pos`. */
export function formatIpv4(buf: Uint8Array, pos: number): string {
  return `${DECIMAL[buf[pos]!]}.${DECIMAL[buf[pos + 1]!]}.${DECIMAL[buf[pos + 2]!]}.${DECIMAL[buf[pos + 3]!]}`;
}

export function writeIpv4(out: Uint8Array, pos: number, value: number): void {
  out[pos] = value >>> 24;
  out[pos + 1] = (value >>> 16) & 0xff;
  out[pos + 2] = (value >>> 8) & 0xff;
  out[pos + 3] = value & 0xff;
}

import { parseIpv6Words } from "./ip-text";
import { formatIpv4, writeIpv4 } from "./ipv4";

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

const words = new Uint32Array(4);

/**
 * Parses IPv6 text (any valid form, any case, optional dotted IPv4 tail, no zone id) into the
 * 16 bytes at `out[pos]`. Returns false for anything else; `out` may then hold partial output.
 */
export function parseIpv6(text: string, out: Uint8Array, pos: number): boolean {
  if (!parseIpv6Words(text, words)) return false;
  for (let i = 0; i < 4; i++) writeIpv4(out, pos + 4 * i, words[i]!);
  return true;
}

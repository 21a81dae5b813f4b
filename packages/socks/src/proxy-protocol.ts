import { Buffer } from "node:buffer";
import { readLatin1, readU16, writeU16 } from "./bytes";
import { checkOffset, type Decoded, INCOMPLETE, type Invalid, invalid, ok } from "./decoded";
import { describeByte, SocksProtocolError } from "./errors";
import { formatIpv4, parseIpv4, writeIpv4 } from "./ipv4";
import { formatIpv6, parseIpv6 } from "./ipv6";

/**
 * HAProxy's PROXY protocol (v1 text, v2 binary), the header a load balancer sends ahead of the
 * client's own bytes to say who the client is. "local": the balancer's own connection (a health
 * check) or an address that is not TCP over IP; the real peer address applies.
 */
export type ProxyHeader =
  | { version: 1 | 2; command: "local" }
  | {
      version: 1 | 2;
      command: "proxy";
      family: 4 | 6;
      source: string;
      sourcePort: number;
      destination: string;
      destinationPort: number;
    };

export type ProxyVersions = "v1" | "v2" | "any";

/** v1's longest line, CRLF included (the spec's bound). */
export const PROXY_V1_MAX_BYTES = 107;
/** v2 addresses plus TLVs accepted at most: a balancer's TLVs (ALPN, authority, SSL) fit easily. */
export const PROXY_V2_MAX_PAYLOAD = 4096;

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const CONTEXT = "PROXY protocol header";

function bad(message: string, offset: number): Invalid {
  return invalid("SOCKS_E_BAD_PROXY_HEADER", `${CONTEXT}: ${message}`, { offset });
}

/** -1: a byte differs; 0: matches so far, more needed; 1: the whole prefix matches. */
function matchPrefix(buf: Uint8Array, offset: number, prefix: Uint8Array): number {
  const n = Math.min(prefix.length, buf.length - offset);
  for (let i = 0; i < n; i++) if (buf[offset + i] !== prefix[i]) return -1 - i;
  return n === prefix.length ? 1 : 0;
}

/**
 * Decodes a PROXY header of the versions `accept` allows at `offset`. Incremental: "incomplete"
 * until the whole header is there; `length` is the header's size, the client's bytes follow.
 * v2 TLVs are bounds-checked and skipped.
 */
export function decodeProxyHeader(
  buf: Uint8Array,
  offset = 0,
  accept: ProxyVersions = "any",
): Decoded<ProxyHeader> {
  const bad0 = checkOffset(buf, offset, CONTEXT);
  if (bad0) return bad0;
  if (buf.length === offset) return INCOMPLETE;
  if (accept !== "v2" && buf[offset] === V1_PREFIX[0]) return decodeV1(buf, offset);
  if (accept !== "v1" && buf[offset] === V2_SIGNATURE[0]) return decodeV2(buf, offset);
  const expected = accept === "v1" ? '"PROXY "' : accept === "v2" ? "the v2 signature" : "a header";
  return bad(`byte 0 is ${describeByte(buf[offset]!)}, expected ${expected}`, offset);
}

function decodeV1(buf: Uint8Array, offset: number): Decoded<ProxyHeader> {
  const match = matchPrefix(buf, offset, V1_PREFIX);
  if (match < 0) return bad(`not a v1 header (byte ${-1 - match})`, offset - 1 - match);
  if (match === 0) return INCOMPLETE;
  const limit = Math.min(buf.length, offset + PROXY_V1_MAX_BYTES);
  let lf = -1;
  for (let i = offset + V1_PREFIX.length; i < limit; i++) {
    if (buf[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) {
    if (limit === offset + PROXY_V1_MAX_BYTES) {
      return bad(`v1 line has no CRLF within ${PROXY_V1_MAX_BYTES} bytes`, limit - 1);
    }
    return INCOMPLETE;
  }
  if (buf[lf - 1] !== 0x0d) return bad("v1 line ends in LF without CR", lf);
  const length = lf + 1 - offset;
  const fields = readLatin1(buf, offset + V1_PREFIX.length, lf - 1).split(" ");
  const protocol = fields[0];
  if (protocol === "UNKNOWN") return ok({ version: 1, command: "local" }, length);
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    return bad(`v1 protocol ${JSON.stringify(protocol)}, expected TCP4, TCP6 or UNKNOWN`, offset);
  }
  if (fields.length !== 5) {
    return bad(`v1 line has ${fields.length - 1} fields after ${protocol}, expected 4`, offset);
  }
  const family = protocol === "TCP4" ? 4 : 6;
  const source = v1Address(fields[1]!, family);
  const destination = v1Address(fields[2]!, family);
  const sourcePort = v1Port(fields[3]!);
  const destinationPort = v1Port(fields[4]!);
  if (source === null || destination === null) {
    return bad(`v1 address is not an IPv${family} address`, offset);
  }
  if (sourcePort < 0 || destinationPort < 0) return bad("v1 port is not 0-65535", offset);
  return ok(
    { version: 1, command: "proxy", family, source, sourcePort, destination, destinationPort },
    length,
  );
}

const scratch = new Uint8Array(16);

function v1Address(text: string, family: 4 | 6): string | null {
  if (family === 4) {
    const value = parseIpv4(text);
    if (value < 0) return null;
    writeIpv4(scratch, 0, value);
    return formatIpv4(scratch, 0);
  }
  return parseIpv6(text, scratch, 0) ? formatIpv6(scratch, 0) : null;
}

/** Decimal 0-65535 without leading zeros (as HAProxy writes it). */
function v1Port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return -1;
  const value = Number(text);
  return value <= 0xffff ? value : -1;
}

function decodeV2(buf: Uint8Array, offset: number): Decoded<ProxyHeader> {
  const match = matchPrefix(buf, offset, V2_SIGNATURE);
  if (match < 0) return bad(`not a v2 signature (byte ${-1 - match})`, offset - 1 - match);
  if (match === 0 || buf.length < offset + 16) return INCOMPLETE;
  const versionCommand = buf[offset + 12]!;
  if (versionCommand >> 4 !== 2) {
    return bad(
      `v2 version (byte 12) is ${describeByte(versionCommand)}, expected 0x2_`,
      offset + 12,
    );
  }
  const command = versionCommand & 0x0f;
  if (command > 1) {
    return bad(
      `v2 command (byte 12) is ${describeByte(versionCommand)}, expected LOCAL or PROXY`,
      offset + 12,
    );
  }
  const familyByte = buf[offset + 13]!;
  const payload = readU16(buf, offset + 14);
  if (payload > PROXY_V2_MAX_PAYLOAD) {
    return bad(
      `v2 length (bytes 14-15) is ${payload}, at most ${PROXY_V2_MAX_PAYLOAD} accepted`,
      offset + 14,
    );
  }
  const end = offset + 16 + payload;
  if (buf.length < end) return INCOMPLETE;
  const length = end - offset;
  if (command === 0) return ok({ version: 2, command: "local" }, length);
  // UNSPEC (and UNIX) carry no IP client: the real peer applies, as the spec says for UNSPEC.
  if (familyByte === 0x00 || familyByte === 0x31)
    return ok({ version: 2, command: "local" }, length);
  if (familyByte !== 0x11 && familyByte !== 0x21) {
    return bad(
      `v2 family (byte 13) is ${describeByte(familyByte)}, expected TCP over IPv4 or IPv6`,
      offset + 13,
    );
  }
  const family = familyByte === 0x11 ? 4 : 6;
  const size = family === 4 ? 4 : 16;
  const addresses = 16 + 2 * size + 4;
  if (length < addresses) {
    return bad(`v2 length ${payload} is too short for IPv${family} addresses`, offset + 14);
  }
  const at = offset + 16;
  const format = family === 4 ? formatIpv4 : formatIpv6;
  const value: ProxyHeader = {
    version: 2,
    command: "proxy",
    family,
    source: format(buf, at),
    destination: format(buf, at + size),
    sourcePort: readU16(buf, at + 2 * size),
    destinationPort: readU16(buf, at + 2 * size + 2),
  };
  // TLVs: type (1), length (2), value; each must end within the header.
  for (let pos = offset + addresses; pos < end; ) {
    if (pos + 3 > end) return bad(`v2 TLV at byte ${pos - offset} is cut short`, pos);
    const next = pos + 3 + readU16(buf, pos + 1);
    if (next > end) return bad(`v2 TLV at byte ${pos - offset} runs past the header`, pos);
    pos = next;
  }
  return ok(value, length);
}

/** Encodes a v1 line; throws SOCKS_E_BAD_PROXY_HEADER for an address not of its family. */
export function encodeProxyHeaderV1(header: ProxyHeader): Buffer {
  if (header.command === "local") return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  const { family, source, destination, sourcePort, destinationPort } = header;
  const s = v1Address(source, family);
  const d = v1Address(destination, family);
  if (s === null || d === null) throw encodeError(`an address is not IPv${family}`);
  return Buffer.from(`PROXY TCP${family} ${s} ${d} ${sourcePort} ${destinationPort}\r\n`, "latin1");
}

/** Encodes a v2 header with `tlvs` (already encoded) after the addresses. */
export function encodeProxyHeaderV2(
  header: ProxyHeader,
  tlvs: Uint8Array = new Uint8Array(0),
): Buffer {
  const size = header.command === "local" ? 0 : header.family === 4 ? 12 : 36;
  const out = Buffer.alloc(16 + size + tlvs.length);
  V2_SIGNATURE.copy(out, 0);
  out[12] = header.command === "local" ? 0x20 : 0x21;
  writeU16(out, 14, size + tlvs.length);
  if (header.command === "proxy") {
    const { family, source, destination, sourcePort, destinationPort } = header;
    out[13] = family === 4 ? 0x11 : 0x21;
    const width = family === 4 ? 4 : 16;
    if (!writeIp(out, 16, source, family) || !writeIp(out, 16 + width, destination, family)) {
      throw encodeError(`an address is not IPv${family}`);
    }
    writeU16(out, 16 + 2 * width, sourcePort);
    writeU16(out, 18 + 2 * width, destinationPort);
  }
  out.set(tlvs, 16 + size);
  return out;
}

function writeIp(out: Uint8Array, pos: number, text: string, family: 4 | 6): boolean {
  if (family === 6) return parseIpv6(text, out, pos);
  const value = parseIpv4(text);
  if (value < 0) return false;
  writeIpv4(out, pos, value);
  return true;
}

function encodeError(message: string): SocksProtocolError {
  return new SocksProtocolError("SOCKS_E_BAD_PROXY_HEADER", `${CONTEXT}: ${message}`, {
    offset: 0,
  });
}

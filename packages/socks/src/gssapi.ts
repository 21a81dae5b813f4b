import { Buffer } from "node:buffer";
import { checkOffset, type Decoded, INCOMPLETE, invalid, ok } from "./decoded";
import { describeByte, SocksProtocolError } from "./errors";

/** RFC 1961 message: VER (1) MTYP LEN (2 bytes, network order) TOKEN. */
export const GSSAPI_VERSION = 0x01;

/** MTYP values of RFC 1961 §3-§5. */
export const GssapiMessageType = {
  /** Context establishment token, both ways. */
  Authentication: 0x01,
  /** Protection-level subnegotiation (wrapped one-octet level; NEC clients send it in clear). */
  Protection: 0x02,
  /** Per-message encapsulation of the request, the reply and relayed data. */
  Encapsulated: 0x03,
  /** The sender gave up (context failure); carries no token. */
  Abort: 0xff,
} as const;

export interface GssapiMessage {
  type: number;
  token: Buffer;
}

const KNOWN_TYPES: readonly number[] = Object.values(GssapiMessageType);

/**
 * Decodes one RFC 1961 message. An abort may arrive as the two-byte
 * VER MTYP alone (as clients send it); every other type needs its length and
 * token. The token is a view into `buf`.
 */
export function decodeGssapiMessage(buf: Uint8Array, offset = 0): Decoded<GssapiMessage> {
  const context = "RFC 1961 message";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== GSSAPI_VERSION) {
    return invalid(
      "SOCKS_E_BAD_GSSAPI_MESSAGE",
      `${context}: VER (byte 0) is ${describeByte(buf[offset]!)}, expected 0x01`,
      { offset },
    );
  }
  if (available < 2) return INCOMPLETE;
  const type = buf[offset + 1]!;
  if (!KNOWN_TYPES.includes(type)) {
    return invalid(
      "SOCKS_E_BAD_GSSAPI_MESSAGE",
      `${context}: MTYP (byte 1) is ${describeByte(type)}, expected 0x01, 0x02, 0x03 or 0xff`,
      { offset: offset + 1 },
    );
  }
  if (type === GssapiMessageType.Abort) return ok({ type, token: Buffer.alloc(0) }, 2);
  if (available < 4) return INCOMPLETE;
  const length = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (length === 0) {
    return invalid("SOCKS_E_BAD_GSSAPI_MESSAGE", `${context}: LEN (bytes 2-3) is 0`, {
      offset: offset + 2,
    });
  }
  if (available < 4 + length) return INCOMPLETE;
  const start = buf.byteOffset + offset + 4;
  return ok({ type, token: Buffer.from(buf.buffer, start, length) }, 4 + length);
}

/** Encodes one message; an abort is VER MTYP alone. Throws SOCKS_E_TOO_LONG past 65535 token bytes. */
export function encodeGssapiMessage(type: number, token: Uint8Array = Buffer.alloc(0)): Buffer {
  if (type === GssapiMessageType.Abort) return Buffer.from([GSSAPI_VERSION, type]);
  if (token.length === 0 || token.length > 0xffff) {
    throw new SocksProtocolError(
      "SOCKS_E_TOO_LONG",
      `RFC 1961 message: a token of ${token.length} bytes does not fit LEN (1-65535)`,
      { offset: 2 },
    );
  }
  const out = Buffer.allocUnsafe(4 + token.length);
  out[0] = GSSAPI_VERSION;
  out[1] = type;
  out.writeUInt16BE(token.length, 2);
  out.set(token, 4);
  return out;
}

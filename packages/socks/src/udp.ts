import { Buffer } from "node:buffer";
import {
  ADDRESS_BAD_ATYP,
  ADDRESS_INCOMPLETE,
  addressEnd,
  badAtyp,
  badDomain,
  encodedAddressLength,
  readAddress,
  type SocksAddress,
  writeAddress,
} from "./address";
import { checkInteger, readU16 } from "./bytes";
import { checkOffset, type Decoded, INCOMPLETE, invalid, ok } from "./decoded";
import { describeByte } from "./errors";

/** RFC 1928 §7 header: RSV(2) FRAG ATYP DST.ADDR DST.PORT. */
export interface UdpHeader {
  frag: number;
  address: SocksAddress;
  port: number;
}

/** RSV RSV FRAG: the part before the address. */
const PREFIX_LENGTH = 3;

/**
 * Decodes the header of a datagram; the payload is `buf.subarray(offset + length)`.
 * A datagram arrives whole, so "incomplete" here means a truncated datagram to drop.
 */
export function decodeUdpHeader(buf: Uint8Array, offset = 0): Decoded<UdpHeader> {
  const context = "SOCKS5 UDP header";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  for (let i = 0; i < 2; i++) {
    if (buf.length <= offset + i) return INCOMPLETE;
    if (buf[offset + i] !== 0) {
      return invalid(
        "SOCKS_E_RESERVED_NONZERO",
        `${context}: RSV (byte ${i}) is ${describeByte(buf[offset + i]!)}, expected 0x00`,
        { offset: offset + i },
      );
    }
  }
  if (buf.length <= offset + 2) return INCOMPLETE;
  const end = addressEnd(buf, offset + PREFIX_LENGTH);
  if (end === ADDRESS_INCOMPLETE) return INCOMPLETE;
  if (end === ADDRESS_BAD_ATYP) return badAtyp(buf, offset + PREFIX_LENGTH, context, 3, undefined);
  const domain = badDomain(buf, {
    pos: offset + PREFIX_LENGTH,
    start: offset,
    context,
    reply: undefined,
  });
  if (domain !== null) return domain;
  return ok(
    {
      frag: buf[offset + 2]!,
      address: readAddress(buf, offset + PREFIX_LENGTH),
      port: readU16(buf, end - 2),
    },
    end - offset,
  );
}

/** Encodes just the header; see `encodeUdpDatagram` to avoid a second copy of the payload. */
export function encodeUdpHeader(h: UdpHeader): Buffer {
  checkInteger(h.frag, 0xff, "frag", 2);
  const out = Buffer.allocUnsafe(PREFIX_LENGTH + encodedAddressLength(h.address, PREFIX_LENGTH));
  writeHeader(out, h);
  return out;
}

/** Encodes header and payload into one Buffer, ready for a single `send()`. */
export function encodeUdpDatagram(h: UdpHeader, payload: Uint8Array): Buffer {
  checkInteger(h.frag, 0xff, "frag", 2);
  const headerLength = PREFIX_LENGTH + encodedAddressLength(h.address, PREFIX_LENGTH);
  const out = Buffer.allocUnsafe(headerLength + payload.length);
  writeHeader(out, h);
  out.set(payload, headerLength);
  return out;
}

function writeHeader(out: Buffer, h: UdpHeader): void {
  out[0] = 0;
  out[1] = 0;
  out[2] = h.frag;
  writeAddress(out, PREFIX_LENGTH, h.address, h.port);
}

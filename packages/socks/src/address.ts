import { Buffer } from "node:buffer";
import {
  checkInteger,
  controlByteAt,
  firstNonLatin1,
  readLatin1,
  readU16,
  writeLatin1,
  writeU16,
} from "./bytes";
import { Atyp, MAX_FIELD_BYTES, Reply } from "./constants";
import {
  checkOffset,
  controlCharacter,
  type Decoded,
  INCOMPLETE,
  type Invalid,
  invalid,
  ok,
} from "./decoded";
import { describeByte, SocksProtocolError } from "./errors";
import { formatIpv4, parseIpv4, writeIpv4 } from "./ipv4";
import { formatIpv6, parseIpv6 } from "./ipv6";

export type AddressType = "ipv4" | "ipv6" | "domain";

/** ipv4 dotted, ipv6 canonical compressed lowercase (as node:net prints it), domain as Latin-1 (lossless). */
export interface SocksAddress {
  type: AddressType;
  host: string;
}

/** `addressEnd` results below zero; kept numeric so the hot path allocates nothing until it succeeds. */
export const ADDRESS_INCOMPLETE = -1;
export const ADDRESS_BAD_ATYP = -2;

/**
 * Index just past DST.PORT of the ATYP-prefixed address at `pos`, or ADDRESS_INCOMPLETE /
 * ADDRESS_BAD_ATYP. Reading the address itself is left to `readAddress`, once the whole
 * message is known to be there.
 */
export function addressEnd(buf: Uint8Array, pos: number): number {
  if (pos >= buf.length) return ADDRESS_INCOMPLETE;
  let end: number;
  switch (buf[pos]) {
    case Atyp.Ipv4:
      end = pos + 1 + 4 + 2;
      break;
    case Atyp.Ipv6:
      end = pos + 1 + 16 + 2;
      break;
    case Atyp.Domain:
      if (pos + 1 >= buf.length) return ADDRESS_INCOMPLETE;
      end = pos + 2 + buf[pos + 1]! + 2;
      break;
    default:
      return ADDRESS_BAD_ATYP;
  }
  return end <= buf.length ? end : ADDRESS_INCOMPLETE;
}

/** The address at `pos`, which `addressEnd` has already accepted. */
export function readAddress(buf: Uint8Array, pos: number): SocksAddress {
  switch (buf[pos]) {
    case Atyp.Ipv4:
      return { type: "ipv4", host: formatIpv4(buf, pos + 1) };
    case Atyp.Ipv6:
      return { type: "ipv6", host: formatIpv6(buf, pos + 1) };
    default:
      return { type: "domain", host: readLatin1(buf, pos + 2, pos + 2 + buf[pos + 1]!) };
  }
}

/**
 * The invalid result for a domain (at `pos`, which `addressEnd` accepted) that holds a control
 * byte, or null when the address is not a domain or has none. `start` is where the message starts.
 */
export function badDomain(
  buf: Uint8Array,
  options: { pos: number; start: number; context: string; reply: number | undefined },
): Invalid | null {
  const { pos, start, context, reply } = options;
  if (buf[pos] !== Atyp.Domain) return null;
  const at = controlByteAt(buf, pos + 2, pos + 2 + buf[pos + 1]!);
  return at === -1 ? null : controlCharacter(context, "domain", start, at, reply);
}

/** The invalid result for an unknown ATYP, named in the terms of the message it sits in. */
export function badAtyp(
  buf: Uint8Array,
  pos: number,
  context: string,
  relative: number,
  reply: number | undefined,
): Invalid {
  return invalid(
    "SOCKS_E_BAD_ATYP",
    `${context}: ATYP (byte ${relative}) is ${describeByte(buf[pos]!)}, expected 0x01 (IPv4), 0x03 (domain) or 0x04 (IPv6)`,
    { offset: pos, reply },
  );
}

/** Bytes `writeAddress` will write for `a`: ATYP, address and port. */
export function encodedAddressLength(a: SocksAddress, offset: number): number {
  if (typeof a.host !== "string") {
    throw new SocksProtocolError("SOCKS_E_BAD_ADDRESS", "address host is not a string", { offset });
  }
  switch (a.type) {
    case "ipv4":
      return 1 + 4 + 2;
    case "ipv6":
      return 1 + 16 + 2;
    case "domain":
      if (a.host.length > MAX_FIELD_BYTES) {
        throw new SocksProtocolError(
          "SOCKS_E_FIELD_TOO_LONG",
          `domain is ${a.host.length} bytes, at most ${MAX_FIELD_BYTES} fit in a SOCKS5 address`,
          { offset },
        );
      }
      return 1 + 1 + a.host.length + 2;
    default:
      throw new SocksProtocolError(
        "SOCKS_E_BAD_ATYP",
        `address type is ${JSON.stringify(a.type)}, expected "ipv4", "ipv6" or "domain"`,
        { offset },
      );
  }
}

function badAddress(a: SocksAddress, expected: string, offset: number): SocksProtocolError {
  return new SocksProtocolError(
    "SOCKS_E_BAD_ADDRESS",
    `${a.type} address ${JSON.stringify(a.host)} is not ${expected}`,
    { offset },
  );
}

/** Writes ATYP, address and port at `pos` (validated and sized by `encodedAddressLength`) and returns the end. */
export function writeAddress(out: Uint8Array, pos: number, a: SocksAddress, port: number): number {
  let next: number;
  switch (a.type) {
    case "ipv4": {
      const value = parseIpv4(a.host);
      if (value < 0) throw badAddress(a, "a dotted-quad IPv4 address", pos);
      out[pos] = Atyp.Ipv4;
      writeIpv4(out, pos + 1, value);
      next = pos + 5;
      break;
    }
    case "ipv6":
      if (!parseIpv6(a.host, out, pos + 1)) {
        throw badAddress(a, "an IPv6 address (without brackets or zone)", pos);
      }
      out[pos] = Atyp.Ipv6;
      next = pos + 17;
      break;
    default: {
      const bad = firstNonLatin1(a.host);
      if (bad >= 0) {
        throw badAddress(
          a,
          `Latin-1 (character ${bad} is U+${a.host.charCodeAt(bad).toString(16).toUpperCase().padStart(4, "0")}; convert it with node:url domainToASCII)`,
          pos,
        );
      }
      out[pos] = Atyp.Domain;
      out[pos + 1] = a.host.length;
      writeLatin1(out, pos + 2, a.host);
      next = pos + 2 + a.host.length;
    }
  }
  checkInteger(port, 0xffff, "port", next);
  writeU16(out, next, port);
  return next + 2;
}

const CLASSIFY_SCRATCH = new Uint8Array(16);

/**
 * Classifies a host: an IPv4 literal, an IPv6 literal (brackets allowed, canonicalised) or,
 * failing both, a domain. Domains are not validated here; that is the relay's policy.
 */
export function addressFromHost(host: string): SocksAddress {
  if (parseIpv4(host) >= 0) return { type: "ipv4", host };
  const last = host.length - 1;
  const literal =
    last > 1 && host.charCodeAt(0) === 91 && host.charCodeAt(last) === 93
      ? host.slice(1, last)
      : host;
  if (parseIpv6(literal, CLASSIFY_SCRATCH, 0)) {
    return { type: "ipv6", host: formatIpv6(CLASSIFY_SCRATCH, 0) };
  }
  return { type: "domain", host };
}

/** Encodes ATYP, DST.ADDR and DST.PORT as they appear in SOCKS5 requests, replies and UDP headers. */
export function encodeAddress(a: SocksAddress, port: number): Buffer {
  const out = Buffer.allocUnsafe(encodedAddressLength(a, 0));
  writeAddress(out, 0, a, port);
  return out;
}

/** Decodes ATYP, DST.ADDR and DST.PORT at `offset`; an unknown ATYP carries reply 0x08. */
export function decodeAddress(
  buf: Uint8Array,
  offset = 0,
): Decoded<{ address: SocksAddress; port: number }> {
  const context = "SOCKS5 address";
  const bad = checkOffset(buf, offset, context, Reply.GeneralFailure);
  if (bad) return bad;
  const end = addressEnd(buf, offset);
  if (end === ADDRESS_INCOMPLETE) return INCOMPLETE;
  if (end === ADDRESS_BAD_ATYP) {
    return badAtyp(buf, offset, context, 0, Reply.AddressTypeNotSupported);
  }
  const domain = badDomain(buf, {
    pos: offset,
    start: offset,
    context,
    reply: Reply.HostUnreachable,
  });
  if (domain !== null) return domain;
  return ok({ address: readAddress(buf, offset), port: readU16(buf, end - 2) }, end - offset);
}

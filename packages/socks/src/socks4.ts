import { Buffer } from "node:buffer";
import type { SocksAddress } from "./address";
import {
  checkInteger,
  controlByteAt,
  controlCharAt,
  firstNonLatin1,
  readLatin1,
  readU16,
  readUtf8,
  utf8FieldLength,
  writeLatin1,
  writeU16,
} from "./bytes";
import { Command, MAX_FIELD_BYTES, SOCKS4_REPLY_VERSION, SOCKS4_VERSION } from "./constants";
import {
  badUtf8,
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

/** A SOCKS4 request; SOCKS4a (DSTIP 0.0.0.x, x != 0, domain after USERID) decodes to a domain address. */
export interface Socks4Request {
  command: "connect" | "bind";
  port: number;
  address: SocksAddress;
  userId: string;
}

/** SOCKS4 CD values in replies. The value and the interface below share a name, as the API contract has it. */
export const Socks4Reply = {
  Granted: 0x5a,
  Rejected: 0x5b,
  NoIdentd: 0x5c,
  IdentMismatch: 0x5d,
} as const;

/** A SOCKS4 reply; host is dotted IPv4. */
export interface Socks4Reply {
  reply: number;
  port: number;
  host: string;
}

/** VN CD DSTPORT DSTIP: the fixed part before USERID. */
const FIXED_LENGTH = 8;

/** DSTIP 0.0.0.1, the conventional SOCKS4a "domain follows" value. */
const SOCKS4A_MARKER = 1;

const NUL_MISSING_INCOMPLETE = -1;
const NUL_MISSING_TOO_LONG = -2;

/**
 * Index of the NUL ending a field that starts at `start`. The scan stops after 255 bytes so a
 * client that never sends the NUL cannot make the server buffer without bound.
 */
function findNul(buf: Uint8Array, start: number): number {
  const limit = start + MAX_FIELD_BYTES + 1;
  const stop = Math.min(limit, buf.length);
  for (let i = start; i < stop; i++) {
    if (buf[i] === 0) return i;
  }
  return stop === limit ? NUL_MISSING_TOO_LONG : NUL_MISSING_INCOMPLETE;
}

function tooLong(context: string, field: string, offset: number, start: number): Invalid {
  return invalid(
    "SOCKS_E_TOO_LONG",
    `${context}: ${field} (from byte ${start - offset}) has no NUL within ${MAX_FIELD_BYTES} bytes`,
    { offset: start + MAX_FIELD_BYTES },
  );
}

/** Decodes a SOCKS4 or SOCKS4a request; USERID and the 4a domain are each capped at 255 bytes. */
export function decodeSocks4Request(buf: Uint8Array, offset = 0): Decoded<Socks4Request> {
  const context = "SOCKS4 request";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS4_VERSION) {
    return invalid(
      "SOCKS_E_BAD_VERSION",
      `${context}: VN (byte 0) is ${describeByte(buf[offset]!)}, expected 0x04`,
      { offset },
    );
  }
  if (available < 2) return INCOMPLETE;
  const cd = buf[offset + 1]!;
  if (cd !== Command.Connect && cd !== Command.Bind) {
    return invalid(
      "SOCKS_E_BAD_COMMAND",
      `${context}: CD (byte 1) is ${describeByte(cd)}, expected 0x01 (CONNECT) or 0x02 (BIND)`,
      { offset: offset + 1 },
    );
  }
  if (available < FIXED_LENGTH) return INCOMPLETE;
  const userStart = offset + FIXED_LENGTH;
  const userEnd = findNul(buf, userStart);
  if (userEnd === NUL_MISSING_INCOMPLETE) return INCOMPLETE;
  if (userEnd === NUL_MISSING_TOO_LONG) return tooLong(context, "USERID", offset, userStart);
  // 0.0.0.x with x != 0 is an address no one can connect to, so SOCKS4a took it as its marker.
  const ipAt = offset + 4;
  const socks4a =
    buf[ipAt] === 0 && buf[ipAt + 1] === 0 && buf[ipAt + 2] === 0 && buf[ipAt + 3] !== 0;
  const domainStart = userEnd + 1;
  let domainEnd = domainStart;
  if (socks4a) {
    domainEnd = findNul(buf, domainStart);
    if (domainEnd === NUL_MISSING_INCOMPLETE) return INCOMPLETE;
    if (domainEnd === NUL_MISSING_TOO_LONG) return tooLong(context, "domain", offset, domainStart);
  }
  // Strings are only built once the whole message is here, not on every partial read.
  const userId = readUtf8(buf, userStart, userEnd);
  if (userId === undefined) return badUtf8(context, "USERID", offset, [userStart, userEnd]);
  const userControl = controlCharAt(userId);
  if (userControl !== -1) {
    return controlCharacter(
      context,
      "USERID",
      offset,
      userStart + Buffer.byteLength(userId.slice(0, userControl)),
    );
  }
  if (socks4a) {
    const at = controlByteAt(buf, domainStart, domainEnd);
    if (at !== -1) return controlCharacter(context, "domain", offset, at);
  }
  const address: SocksAddress = socks4a
    ? { type: "domain", host: readLatin1(buf, domainStart, domainEnd) }
    : { type: "ipv4", host: formatIpv4(buf, ipAt) };
  const end = socks4a ? domainEnd + 1 : domainStart;
  return ok(
    {
      command: cd === Command.Connect ? "connect" : "bind",
      port: readU16(buf, offset + 2),
      address,
      userId,
    },
    end - offset,
  );
}

function badHost(address: SocksAddress, problem: string): SocksProtocolError {
  return new SocksProtocolError(
    "SOCKS_E_BAD_ADDRESS",
    `${address.type} address ${JSON.stringify(address.host)} ${problem}`,
    { offset: 4 },
  );
}

/** DSTIP to send, plus the domain that follows USERID when the request is SOCKS4a. */
function socks4Destination(address: SocksAddress): { ip: number; domain: string | undefined } {
  if (typeof address.host !== "string") throw badHost(address, "is not a string");
  switch (address.type) {
    case "ipv4": {
      const ip = parseIpv4(address.host);
      if (ip < 0) throw badHost(address, "is not a dotted-quad IPv4 address");
      if (ip > 0 && ip <= 0xff) {
        throw badHost(address, "is 0.0.0.x, which SOCKS4a reserves to mean a domain follows");
      }
      return { ip, domain: undefined };
    }
    case "domain": {
      const host = address.host;
      if (host.length > MAX_FIELD_BYTES) {
        throw new SocksProtocolError(
          "SOCKS_E_FIELD_TOO_LONG",
          `domain is ${host.length} bytes, at most ${MAX_FIELD_BYTES} fit in SOCKS4a`,
          { offset: FIXED_LENGTH },
        );
      }
      if (firstNonLatin1(host) >= 0 || host.includes("\0")) {
        throw badHost(
          address,
          "has a NUL or a character above U+00FF; SOCKS4a carries NUL-terminated Latin-1",
        );
      }
      return { ip: SOCKS4A_MARKER, domain: host };
    }
    default:
      throw new SocksProtocolError(
        "SOCKS_E_BAD_ATYP",
        `address type is ${JSON.stringify(address.type)}, SOCKS4 carries "ipv4" and (4a) "domain" only`,
        { offset: 4 },
      );
  }
}

/** Encodes a SOCKS4 request, or SOCKS4a when the address is a domain. */
export function encodeSocks4Request(r: Socks4Request): Buffer {
  if (r.command !== "connect" && r.command !== "bind") {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_COMMAND",
      `command is ${JSON.stringify(r.command)}, expected "connect" or "bind"`,
      { offset: 1 },
    );
  }
  checkInteger(r.port, 0xffff, "port", 2);
  const { ip, domain } = socks4Destination(r.address);
  const userLength = utf8FieldLength(r.userId, "userId", FIXED_LENGTH);
  if (userLength > MAX_FIELD_BYTES) {
    throw new SocksProtocolError(
      "SOCKS_E_FIELD_TOO_LONG",
      `userId is ${userLength} UTF-8 bytes, at most ${MAX_FIELD_BYTES} fit`,
      { offset: FIXED_LENGTH },
    );
  }
  if (r.userId.includes("\0")) {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_STRING",
      "userId contains NUL, which ends the field",
      {
        offset: FIXED_LENGTH,
      },
    );
  }
  const domainAt = FIXED_LENGTH + userLength + 1;
  const out = Buffer.allocUnsafe(domainAt + (domain === undefined ? 0 : domain.length + 1));
  out[0] = SOCKS4_VERSION;
  out[1] = r.command === "connect" ? Command.Connect : Command.Bind;
  writeU16(out, 2, r.port);
  writeIpv4(out, 4, ip);
  out.write(r.userId, FIXED_LENGTH, "utf8");
  out[domainAt - 1] = 0;
  if (domain !== undefined) {
    writeLatin1(out, domainAt, domain);
    out[domainAt + domain.length] = 0;
  }
  return out;
}

/** Encodes a SOCKS4 reply: 00 CD DSTPORT DSTIP (8 bytes). */
export function encodeSocks4Reply(r: Socks4Reply): Buffer {
  checkInteger(r.reply, 0xff, "reply", 1);
  checkInteger(r.port, 0xffff, "port", 2);
  const ip = typeof r.host === "string" ? parseIpv4(r.host) : -1;
  if (ip < 0) {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_ADDRESS",
      `host ${JSON.stringify(r.host)} is not a dotted-quad IPv4 address`,
      { offset: 4 },
    );
  }
  const out = Buffer.allocUnsafe(FIXED_LENGTH);
  out[0] = SOCKS4_REPLY_VERSION;
  out[1] = r.reply;
  writeU16(out, 2, r.port);
  writeIpv4(out, 4, ip);
  return out;
}

/** Decodes a SOCKS4 reply; VN must be 0, CD is passed through as is. */
export function decodeSocks4Reply(buf: Uint8Array, offset = 0): Decoded<Socks4Reply> {
  const context = "SOCKS4 reply";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS4_REPLY_VERSION) {
    return invalid(
      "SOCKS_E_BAD_VERSION",
      `${context}: VN (byte 0) is ${describeByte(buf[offset]!)}, expected 0x00`,
      { offset },
    );
  }
  if (available < FIXED_LENGTH) return INCOMPLETE;
  return ok(
    { reply: buf[offset + 1]!, port: readU16(buf, offset + 2), host: formatIpv4(buf, offset + 4) },
    FIXED_LENGTH,
  );
}

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
import { Command, MAX_FIELD_BYTES, Reply, SOCKS5_VERSION } from "./constants";
import { checkOffset, type Decoded, INCOMPLETE, type Invalid, invalid, ok } from "./decoded";
import { describeByte, SocksProtocolError } from "./errors";

/** VER=5 NMETHODS METHODS... */
export interface Greeting {
  methods: number[];
}

export type CommandName = "connect" | "bind" | "udp-associate";

export interface Request {
  command: CommandName;
  address: SocksAddress;
  port: number;
}

export interface Reply5 {
  reply: number;
  address: SocksAddress;
  port: number;
}

/** Indexed by CMD byte. */
const COMMAND_NAMES: readonly (CommandName | undefined)[] = [
  undefined,
  "connect",
  "bind",
  "udp-associate",
];

function commandByte(command: CommandName): number {
  switch (command) {
    case "connect":
      return Command.Connect;
    case "bind":
      return Command.Bind;
    case "udp-associate":
      return Command.UdpAssociate;
    default:
      throw new SocksProtocolError(
        "SOCKS_E_BAD_COMMAND",
        `command is ${JSON.stringify(command)}, expected "connect", "bind" or "udp-associate"`,
        { offset: 1 },
      );
  }
}

function badVersion(
  buf: Uint8Array,
  offset: number,
  context: string,
  reply: number | undefined,
): Invalid {
  return invalid(
    "SOCKS_E_BAD_VERSION",
    `${context}: VER (byte 0) is ${describeByte(buf[offset]!)}, expected 0x05`,
    { offset, reply },
  );
}

function reservedNonzero(
  buf: Uint8Array,
  pos: number,
  context: string,
  reply: number | undefined,
): Invalid {
  return invalid(
    "SOCKS_E_RESERVED_NONZERO",
    `${context}: RSV (byte 2) is ${describeByte(buf[pos]!)}, expected 0x00`,
    { offset: pos, reply },
  );
}

/** Decodes a client greeting (VER NMETHODS METHODS); NMETHODS 0 is invalid. */
export function decodeGreeting(buf: Uint8Array, offset = 0): Decoded<Greeting> {
  const context = "SOCKS5 greeting";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS5_VERSION) return badVersion(buf, offset, context, undefined);
  if (available < 2) return INCOMPLETE;
  const count = buf[offset + 1]!;
  if (count === 0) {
    return invalid(
      "SOCKS_E_NO_METHODS",
      `${context}: NMETHODS (byte 1) is 0, expected at least one method`,
      { offset: offset + 1 },
    );
  }
  if (available < 2 + count) return INCOMPLETE;
  const methods: number[] = [];
  for (let i = offset + 2; i < offset + 2 + count; i++) methods.push(buf[i]!);
  return ok({ methods }, 2 + count);
}

/** Encodes a client greeting; throws for no methods, more than 255, or a method outside 0-255. */
export function encodeGreeting(g: Greeting): Buffer {
  const count = g.methods.length;
  if (count === 0) {
    throw new SocksProtocolError("SOCKS_E_NO_METHODS", "greeting has no methods, expected 1-255", {
      offset: 1,
    });
  }
  if (count > MAX_FIELD_BYTES) {
    throw new SocksProtocolError(
      "SOCKS_E_FIELD_TOO_LONG",
      `greeting has ${count} methods, at most ${MAX_FIELD_BYTES} fit`,
      { offset: 1 },
    );
  }
  const out = Buffer.allocUnsafe(2 + count);
  out[0] = SOCKS5_VERSION;
  out[1] = count;
  for (let i = 0; i < count; i++) {
    const method = g.methods[i]!;
    checkInteger(method, 0xff, `method ${i}`, 2 + i);
    out[2 + i] = method;
  }
  return out;
}

/** Encodes the server's method choice: 05 METHOD. */
export function encodeMethodSelection(method: number): Buffer {
  checkInteger(method, 0xff, "method", 1);
  const out = Buffer.allocUnsafe(2);
  out[0] = SOCKS5_VERSION;
  out[1] = method;
  return out;
}

/** Decodes the server's method choice: 05 METHOD (0xff means none acceptable). */
export function decodeMethodSelection(buf: Uint8Array, offset = 0): Decoded<{ method: number }> {
  const context = "SOCKS5 method selection";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS5_VERSION) return badVersion(buf, offset, context, undefined);
  if (available < 2) return INCOMPLETE;
  return ok({ method: buf[offset + 1]! }, 2);
}

/**
 * Decodes a client request. Each field is checked as soon as its byte arrives, so garbage is
 * refused on its first bad byte rather than after buffering a whole message. The error's
 * `reply` is what to answer: 0x07 unknown CMD, 0x08 unknown ATYP, 0x01 anything else.
 */
export function decodeRequest(buf: Uint8Array, offset = 0): Decoded<Request> {
  const context = "SOCKS5 request";
  const bad = checkOffset(buf, offset, context, Reply.GeneralFailure);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS5_VERSION) {
    return badVersion(buf, offset, context, Reply.GeneralFailure);
  }
  if (available < 2) return INCOMPLETE;
  const command = COMMAND_NAMES[buf[offset + 1]!];
  if (command === undefined) {
    return invalid(
      "SOCKS_E_BAD_COMMAND",
      `${context}: CMD (byte 1) is ${describeByte(buf[offset + 1]!)}, expected 0x01 (CONNECT), 0x02 (BIND) or 0x03 (UDP ASSOCIATE)`,
      { offset: offset + 1, reply: Reply.CommandNotSupported },
    );
  }
  if (available < 3) return INCOMPLETE;
  if (buf[offset + 2] !== 0) {
    return reservedNonzero(buf, offset + 2, context, Reply.GeneralFailure);
  }
  const end = addressEnd(buf, offset + 3);
  if (end === ADDRESS_INCOMPLETE) return INCOMPLETE;
  if (end === ADDRESS_BAD_ATYP) {
    return badAtyp(buf, offset + 3, context, 3, Reply.AddressTypeNotSupported);
  }
  const domain = badDomain(buf, {
    pos: offset + 3,
    start: offset,
    context,
    reply: Reply.HostUnreachable,
  });
  if (domain !== null) return domain;
  return ok(
    { command, address: readAddress(buf, offset + 3), port: readU16(buf, end - 2) },
    end - offset,
  );
}

/** Encodes a client request: 05 CMD 00 ATYP DST.ADDR DST.PORT. */
export function encodeRequest(r: Request): Buffer {
  const command = commandByte(r.command);
  const out = Buffer.allocUnsafe(3 + encodedAddressLength(r.address, 3));
  out[0] = SOCKS5_VERSION;
  out[1] = command;
  out[2] = 0;
  writeAddress(out, 3, r.address, r.port);
  return out;
}

/** Encodes a server reply, always with a full BND address (use 0.0.0.0:0 when there is none). */
export function encodeReply(r: Reply5): Buffer {
  checkInteger(r.reply, 0xff, "reply", 1);
  const out = Buffer.allocUnsafe(3 + encodedAddressLength(r.address, 3));
  out[0] = SOCKS5_VERSION;
  out[1] = r.reply;
  out[2] = 0;
  writeAddress(out, 3, r.address, r.port);
  return out;
}

/** Decodes a server reply. REP is passed through as is: an unassigned code is still a failure. */
export function decodeReply(buf: Uint8Array, offset = 0): Decoded<Reply5> {
  const context = "SOCKS5 reply";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== SOCKS5_VERSION) return badVersion(buf, offset, context, undefined);
  if (available < 3) return INCOMPLETE;
  if (buf[offset + 2] !== 0) return reservedNonzero(buf, offset + 2, context, undefined);
  const end = addressEnd(buf, offset + 3);
  if (end === ADDRESS_INCOMPLETE) return INCOMPLETE;
  if (end === ADDRESS_BAD_ATYP) return badAtyp(buf, offset + 3, context, 3, undefined);
  return ok(
    { reply: buf[offset + 1]!, address: readAddress(buf, offset + 3), port: readU16(buf, end - 2) },
    end - offset,
  );
}

const failureReplies: (Buffer | undefined)[] = [];

/**
 * `05 code 00 01 00000000 0000`, built once per code. The Buffer is shared between callers:
 * write it to a socket, never modify it.
 */
export function failureReply(code: number): Buffer {
  checkInteger(code, 0xff, "reply", 1);
  let reply = failureReplies[code];
  if (reply === undefined) {
    // Buffer.alloc, not allocUnsafe: a cached slice of the shared pool would pin the whole pool.
    reply = Buffer.alloc(10);
    reply[0] = SOCKS5_VERSION;
    reply[1] = code;
    reply[3] = 0x01;
    failureReplies[code] = reply;
  }
  return reply;
}

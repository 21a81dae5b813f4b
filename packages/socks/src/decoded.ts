import { type SocksErrorCode, SocksProtocolError, type SocksProtocolErrorOptions } from "./errors";

export type Invalid = { status: "invalid"; error: SocksProtocolError };

/** What every decoder returns; `length` is the number of bytes consumed from the offset. */
export type Decoded<T> =
  | { status: "ok"; value: T; length: number }
  | { status: "incomplete" }
  | Invalid;

/** Shared and frozen: "need more bytes" is the common answer while a handshake trickles in, so it allocates nothing. */
export const INCOMPLETE: { readonly status: "incomplete" } = Object.freeze({
  status: "incomplete",
});

export function ok<T>(value: T, length: number): Decoded<T> {
  return { status: "ok", value, length };
}

export function invalid(
  code: SocksErrorCode,
  message: string,
  options: SocksProtocolErrorOptions,
): Invalid {
  return { status: "invalid", error: new SocksProtocolError(code, message, options) };
}

/** A bad offset is a caller bug, but decoders promise never to throw, so it becomes an invalid result. */
export function checkOffset(
  buf: Uint8Array,
  offset: number,
  context: string,
  reply?: number,
): Invalid | undefined {
  if (Number.isInteger(offset) && offset >= 0 && offset <= buf.length) return undefined;
  return invalid(
    "SOCKS_E_BAD_OFFSET",
    `${context}: offset ${offset} is not an integer within the ${buf.length}-byte buffer`,
    { offset: Number.isInteger(offset) ? offset : 0, reply },
  );
}

/** `field` spans bytes [start, end) of the message at `offset`. */
export function badUtf8(
  context: string,
  field: string,
  offset: number,
  span: [number, number],
): Invalid {
  const [start, end] = span;
  return invalid(
    "SOCKS_E_BAD_UTF8",
    `${context}: ${field} (bytes ${start - offset}-${end - offset - 1}) is not valid UTF-8`,
    { offset: start },
  );
}

/** A text field (username, password, USERID, domain) holding a control character such as NUL. */
export function controlCharacter(
  context: string,
  field: string,
  offset: number,
  at: number,
  reply?: number,
): Invalid {
  return invalid(
    "SOCKS_E_CONTROL_CHARACTER",
    `${context}: ${field} holds a control character (byte ${at - offset})`,
    { offset: at, reply },
  );
}

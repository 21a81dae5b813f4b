/**
 * Every code a codec error can carry. Callers (metrics labels, tests) match on these,
 * never on messages, so a code is never renamed once shipped.
 */
export const SOCKS_ERROR_CODES = [
  "SOCKS_E_BAD_OFFSET",
  "SOCKS_E_BAD_VERSION",
  "SOCKS_E_NO_METHODS",
  "SOCKS_E_BAD_COMMAND",
  "SOCKS_E_RESERVED_NONZERO",
  "SOCKS_E_BAD_ATYP",
  "SOCKS_E_BAD_AUTH_VERSION",
  "SOCKS_E_EMPTY_USERNAME",
  "SOCKS_E_BAD_UTF8",
  "SOCKS_E_TOO_LONG",
  "SOCKS_E_FIELD_TOO_LONG",
  "SOCKS_E_BAD_ADDRESS",
  "SOCKS_E_BAD_STRING",
  "SOCKS_E_OUT_OF_RANGE",
  "SOCKS_E_CONTROL_CHARACTER",
  "SOCKS_E_BAD_PROXY_HEADER",
  "SOCKS_E_BAD_GSSAPI_MESSAGE",
  "SOCKS_E_BAD_HTTP_RESPONSE",
] as const;

export type SocksErrorCode = (typeof SOCKS_ERROR_CODES)[number];

export interface SocksProtocolErrorOptions {
  /** Absolute byte offset in the buffer (decoders) or in the message being built (encoders). */
  offset: number;
  /** SOCKS5 reply code the server should answer with; only set by decoders of server-side SOCKS5 requests. */
  reply?: number | undefined;
  cause?: unknown;
}

/**
 * A malformed or unencodable SOCKS message. Decoders return it inside `{ status: "invalid" }`;
 * encoders throw it.
 */
export class SocksProtocolError extends Error {
  override readonly name = "SocksProtocolError";
  readonly code: SocksErrorCode;
  /**
   * The SOCKS5 reply code the server should send before closing: 0x07 for an unknown command,
   * 0x08 for an unknown address type, 0x01 for anything else wrong in a SOCKS5 request.
   * `undefined` where no SOCKS5 reply applies (greetings, RFC 1929, SOCKS4, UDP, client-side decoders).
   */
  readonly reply: number | undefined;
  /** Byte offset where the problem was found. */
  readonly offset: number;

  constructor(code: SocksErrorCode, message: string, options: SocksProtocolErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.reply = options.reply;
    this.offset = options.offset;
  }
}

/** Renders a byte for an error message; printable ASCII is shown too, because a stray HTTP or TLS client is the usual culprit. */
export function describeByte(value: number): string {
  const hex = `0x${value.toString(16).padStart(2, "0")}`;
  return value >= 0x20 && value < 0x7f ? `${hex} ('${String.fromCharCode(value)}')` : hex;
}

export const SOCKS5_VERSION = 5;
export const SOCKS4_VERSION = 4;
/** RFC 1929 sub-negotiation version. */
export const USERPASS_VERSION = 1;
/** SOCKS4 replies carry VN 0, not 4. */
export const SOCKS4_REPLY_VERSION = 0;

/** SOCKS5 authentication methods (RFC 1928 §3). */
export const AuthMethod = { None: 0x00, Gssapi: 0x01, UserPass: 0x02, NoAcceptable: 0xff } as const;

/** SOCKS5 CMD values (RFC 1928 §4); SOCKS4 uses the first two. */
export const Command = { Connect: 0x01, Bind: 0x02, UdpAssociate: 0x03 } as const;

/** SOCKS5 REP values (RFC 1928 §6). */
export const Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;

/** SOCKS5 ATYP values (RFC 1928 §5). */
export const Atyp = { Ipv4: 0x01, Domain: 0x03, Ipv6: 0x04 } as const;

/** Every length-prefixed or NUL-terminated field in these protocols fits in one byte's worth. */
export const MAX_FIELD_BYTES = 255;

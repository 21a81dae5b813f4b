import { Buffer } from "node:buffer";
import { controlCharAt, readUtf8, utf8FieldLength } from "./bytes";
import { MAX_FIELD_BYTES, USERPASS_VERSION } from "./constants";
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

/** RFC 1929 credentials, UTF-8 on the wire. */
export interface UserPass {
  username: string;
  password: string;
}

function badAuthVersion(buf: Uint8Array, offset: number, context: string): Invalid {
  return invalid(
    "SOCKS_E_BAD_AUTH_VERSION",
    `${context}: VER (byte 0) is ${describeByte(buf[offset]!)}, expected 0x01`,
    { offset },
  );
}

/**
 * Decodes VER ULEN UNAME PLEN PASSWD; VER must be 1, ULEN at least 1, both fields valid UTF-8
 * without control characters (NUL included): such a name could never match a user, and would
 * poison the session record it lands in.
 */
export function decodeUserPassRequest(buf: Uint8Array, offset = 0): Decoded<UserPass> {
  const context = "RFC 1929 request";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== USERPASS_VERSION) return badAuthVersion(buf, offset, context);
  if (available < 2) return INCOMPLETE;
  const usernameLength = buf[offset + 1]!;
  if (usernameLength === 0) {
    return invalid(
      "SOCKS_E_EMPTY_USERNAME",
      `${context}: ULEN (byte 1) is 0, expected a username of 1-255 bytes`,
      { offset: offset + 1 },
    );
  }
  const usernameStart = offset + 2;
  const passwordLengthAt = usernameStart + usernameLength;
  if (buf.length <= passwordLengthAt) return INCOMPLETE;
  const passwordStart = passwordLengthAt + 1;
  const end = passwordStart + buf[passwordLengthAt]!;
  if (buf.length < end) return INCOMPLETE;
  const username = readUtf8(buf, usernameStart, passwordLengthAt);
  if (username === undefined) {
    return badUtf8(context, "UNAME", offset, [usernameStart, passwordLengthAt]);
  }
  const password = readUtf8(buf, passwordStart, end);
  if (password === undefined) {
    return badUtf8(context, "PASSWD", offset, [passwordStart, end]);
  }
  const usernameControl = controlCharAt(username);
  if (usernameControl !== -1) {
    const at = usernameStart + Buffer.byteLength(username.slice(0, usernameControl));
    return controlCharacter(context, "UNAME", offset, at);
  }
  const passwordControl = controlCharAt(password);
  if (passwordControl !== -1) {
    const at = passwordStart + Buffer.byteLength(password.slice(0, passwordControl));
    return controlCharacter(context, "PASSWD", offset, at);
  }
  return ok({ username, password }, end - offset);
}

/** Encodes VER ULEN UNAME PLEN PASSWD; throws SOCKS_E_FIELD_TOO_LONG past 255 UTF-8 bytes. */
export function encodeUserPassRequest(u: UserPass): Buffer {
  const usernameLength = utf8FieldLength(u.username, "username", 2);
  if (usernameLength === 0) {
    throw new SocksProtocolError(
      "SOCKS_E_EMPTY_USERNAME",
      "username is empty, RFC 1929 needs 1-255 bytes",
      {
        offset: 1,
      },
    );
  }
  if (usernameLength > MAX_FIELD_BYTES) {
    throw new SocksProtocolError(
      "SOCKS_E_FIELD_TOO_LONG",
      `username is ${usernameLength} UTF-8 bytes, at most ${MAX_FIELD_BYTES} fit`,
      { offset: 1 },
    );
  }
  const passwordLengthAt = 2 + usernameLength;
  const passwordLength = utf8FieldLength(u.password, "password", passwordLengthAt + 1);
  if (passwordLength > MAX_FIELD_BYTES) {
    throw new SocksProtocolError(
      "SOCKS_E_FIELD_TOO_LONG",
      `password is ${passwordLength} UTF-8 bytes, at most ${MAX_FIELD_BYTES} fit`,
      { offset: passwordLengthAt },
    );
  }
  const out = Buffer.allocUnsafe(passwordLengthAt + 1 + passwordLength);
  out[0] = USERPASS_VERSION;
  out[1] = usernameLength;
  out.write(u.username, 2, "utf8");
  out[passwordLengthAt] = passwordLength;
  out.write(u.password, passwordLengthAt + 1, "utf8");
  return out;
}

/** Encodes the server's verdict: 01 00 (success) or 01 01 (failure). */
export function encodeUserPassReply(ok: boolean): Buffer {
  const out = Buffer.allocUnsafe(2);
  out[0] = USERPASS_VERSION;
  out[1] = ok ? 0x00 : 0x01;
  return out;
}

/** Decodes the server's verdict; RFC 1929 counts any non-zero STATUS as failure. */
export function decodeUserPassReply(buf: Uint8Array, offset = 0): Decoded<{ ok: boolean }> {
  const context = "RFC 1929 reply";
  const bad = checkOffset(buf, offset, context);
  if (bad) return bad;
  const available = buf.length - offset;
  if (available < 1) return INCOMPLETE;
  if (buf[offset] !== USERPASS_VERSION) return badAuthVersion(buf, offset, context);
  if (available < 2) return INCOMPLETE;
  return ok({ ok: buf[offset + 1] === 0x00 }, 2);
}

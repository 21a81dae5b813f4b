import { Buffer } from "node:buffer";
import { checkOffset, type Decoded, INCOMPLETE, type Invalid, invalid, ok } from "./decoded";
import { SocksProtocolError } from "./errors";
import { parseIpv6 } from "./ipv6";

/*
 * The client side of HTTP CONNECT (RFC 9110 §9.3.6), for HTTP proxies as upstream hops: the
 * request, and the head of the proxy's response. A 2xx response is followed by the tunnel; any
 * other is a refusal whose body is never read (the connection is dropped instead).
 */

export interface HttpConnectRequest {
  /** A DNS name or an IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /** Basic credentials for Proxy-Authorization (RFC 7617); the username has no ":". */
  credentials?: { username: string; password: string } | undefined;
}

export interface HttpConnectResponse {
  /** 1.0 or 1.1. */
  version: string;
  status: number;
  reason: string;
  /** Header fields in order, names as sent. */
  headers: [name: string, value: string][];
}

/** A response head larger than this is refused: 8 KiB, as common servers bound a request head. */
export const HTTP_CONNECT_MAX_HEAD_BYTES = 8192;

const CONTEXT = "HTTP CONNECT response";

function badResponse(message: string, offset: number): Invalid {
  return invalid("SOCKS_E_BAD_HTTP_RESPONSE", `${CONTEXT}: ${message}`, { offset });
}

/** Anything that could end the request line or smuggle a header: controls, space, DEL. */
function hasUnsafeByte(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * `CONNECT host:port HTTP/1.1` with Host and, when given, Proxy-Authorization. Throws
 * SocksProtocolError for a host or credentials that cannot be sent safely (spaces, controls,
 * a ":" in the username, more than 255 bytes).
 */
export function encodeHttpConnect(request: HttpConnectRequest): Buffer {
  const { host, port, credentials } = request;
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new SocksProtocolError("SOCKS_E_OUT_OF_RANGE", `port is ${port}, expected 1-65535`, {
      offset: 0,
    });
  }
  if (host.length === 0 || host.length > 255 || hasUnsafeByte(host) || /[[\]/?#@]/.test(host)) {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_ADDRESS",
      `host ${JSON.stringify(host)} cannot be sent in a CONNECT request line`,
      { offset: 8 },
    );
  }
  const isV6 = host.includes(":");
  if (isV6 && !parseIpv6(host, new Uint8Array(16), 0)) {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_ADDRESS",
      `host ${JSON.stringify(host)} has a ":" but is not an IPv6 address`,
      { offset: 8 },
    );
  }
  const authority = isV6 ? `[${host}]:${port}` : `${host}:${port}`;
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (credentials) {
    const { username, password } = credentials;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    const control = /[\u0000-\u001f\u007f]/;
    if (username.includes(":") || control.test(username) || control.test(password)) {
      throw new SocksProtocolError(
        "SOCKS_E_BAD_STRING",
        'Basic credentials cannot hold control characters, nor a ":" in the username',
        { offset: head.length },
      );
    }
    const token = Buffer.from(`${username}:${password}`, "utf8").toString("base64");
    head += `Proxy-Authorization: Basic ${token}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, "latin1");
}

/** `name: value`, name an RFC 9110 token. */
const HEADER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;
const STATUS_LINE = /^HTTP\/(1\.[01]) ([1-5][0-9]{2})(?: (.*))?$/;

/**
 * Decodes the head of the proxy's answer to CONNECT: status line and header fields, up to the
 * empty line. `length` covers the head only; bytes after it are the tunnel's (on 2xx). Lines end
 * in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept either); obsolete line folding,
 * control characters and a head over `maxBytes` are refused. Content-Length and
 * Transfer-Encoding are ignored, as RFC 9110 tells a CONNECT client to.
 */
export function decodeHttpConnectResponse(
  buf: Uint8Array,
  offset = 0,
  maxBytes = HTTP_CONNECT_MAX_HEAD_BYTES,
): Decoded<HttpConnectResponse> {
  const bad = checkOffset(buf, offset, CONTEXT);
  if (bad) return bad;
  const limit = Math.min(buf.length, offset + maxBytes);
  const lines: string[] = [];
  let start = offset;
  let end = -1;
  for (let i = offset; i < limit; i++) {
    const c = buf[i]!;
    if (c !== 0x0a) {
      // Latin-1 text; controls other than tab (and the CR before LF) are refused.
      if ((c < 0x20 && c !== 0x09 && c !== 0x0d) || c === 0x7f) {
        return badResponse(`control character 0x${c.toString(16).padStart(2, "0")}`, i);
      }
      continue;
    }
    let lineEnd = i;
    if (lineEnd > start && buf[lineEnd - 1] === 0x0d) lineEnd -= 1;
    const line = Buffer.from(buf.buffer, buf.byteOffset + start, lineEnd - start).toString(
      "latin1",
    );
    if (line.includes("\r")) return badResponse("a CR inside a line", start + line.indexOf("\r"));
    start = i + 1;
    if (line.length === 0) {
      if (lines.length === 0) return badResponse("empty status line", i);
      end = i + 1;
      break;
    }
    lines.push(line);
    if (lines.length === 1 && !line.startsWith("HTTP/")) {
      return badResponse(
        `status line ${JSON.stringify(line.slice(0, 40))} is not HTTP/1.x`,
        offset,
      );
    }
  }
  if (end < 0) {
    // Refuse a non-HTTP answer on its first bytes rather than after buffering the bound.
    const prefix = Buffer.from(buf.buffer, buf.byteOffset + offset, Math.min(5, limit - offset));
    if (!Buffer.from("HTTP/").subarray(0, prefix.length).equals(prefix)) {
      return badResponse(`does not start with "HTTP/"`, offset);
    }
    if (buf.length - offset >= maxBytes) {
      return invalid("SOCKS_E_TOO_LONG", `${CONTEXT}: the head exceeds ${maxBytes} bytes`, {
        offset: offset + maxBytes - 1,
      });
    }
    return INCOMPLETE;
  }
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) {
    return badResponse(
      `status line ${JSON.stringify(lines[0]!.slice(0, 80))} is malformed`,
      offset,
    );
  }
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      return badResponse("obsolete line folding", offset);
    }
    const field = HEADER.exec(line);
    if (!field)
      return badResponse(`header line ${JSON.stringify(line.slice(0, 80))} is malformed`, offset);
    headers.push([field[1]!, field[2]!]);
  }
  return ok(
    { version: status[1]!, status: Number(status[2]), reason: status[3] ?? "", headers },
    end - offset,
  );
}

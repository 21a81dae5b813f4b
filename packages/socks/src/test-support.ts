// Shared by the *.test.ts files only; nothing here is exported from index.ts.
import { SocketAddress } from "node:net";
import fc from "fast-check";
import type { SocksAddress } from "./address";
import type { Decoded } from "./decoded";
import { SOCKS_ERROR_CODES, SocksProtocolError } from "./errors";

export const port = fc.integer({ min: 0, max: 0xffff });
export const byte = fc.integer({ min: 0, max: 0xff });

/** Canonical IPv6 text as node:net prints it, independent of our formatter. */
export function nodeIpv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new SocketAddress({ address: groups.join(":"), family: "ipv6" }).address;
}

/** Sixteen bytes biased towards zero groups and the ::ffff: prefix, where canonical forms get interesting. */
export const ipv6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  })
  .map((words) => {
    const bytes = new Uint8Array(16);
    words.forEach((word, i) => {
      bytes[2 * i] = word >>> 8;
      bytes[2 * i + 1] = word & 0xff;
    });
    return bytes;
  });

export const ipv4Address: fc.Arbitrary<SocksAddress> = fc
  .uint8Array({ minLength: 4, maxLength: 4 })
  .map((b) => ({ type: "ipv4", host: Array.from(b).join(".") }));

export const ipv6Address: fc.Arbitrary<SocksAddress> = ipv6Bytes.map((b) => ({
  type: "ipv6",
  host: nodeIpv6Text(b),
}));

/** A Latin-1 character that is not a control character (decoders refuse those in text fields). */
export const latin1Char = byte
  .filter((c) => c >= 0x20 && (c < 0x7f || c > 0x9f))
  .map((c) => String.fromCharCode(c));

/** Any Latin-1 string a SOCKS5 domain field can hold, including the empty one. */
export const latin1Domain = fc.string({ unit: latin1Char, maxLength: 255 });

export const domainAddress: fc.Arbitrary<SocksAddress> = latin1Domain.map((host) => ({
  type: "domain",
  host,
}));

export const socksAddress = fc.oneof(ipv4Address, ipv6Address, domainAddress);

/** A string whose UTF-8 form is at most 255 bytes (63 code points of at most 4 bytes each). */
export const utf8Field = fc
  .oneof(
    fc.string({ unit: "binary", maxLength: 63 }),
    fc.string({ minLength: 200, maxLength: 255 }),
  )
  // biome-ignore lint/suspicious/noControlCharactersInRegex: decoders refuse control characters
  .map((text) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "x"));

/** Bytes `junk` + `message` + `tail`, so decoders are exercised away from offset 0 and with data following. */
export const surroundings = fc.record({
  junk: fc.uint8Array({ maxLength: 16 }),
  tail: fc.uint8Array({ maxLength: 16 }),
});

export function embed(junk: Uint8Array, message: Uint8Array, tail: Uint8Array): Uint8Array {
  const buf = new Uint8Array(junk.length + message.length + tail.length);
  buf.set(junk, 0);
  buf.set(message, junk.length);
  buf.set(tail, junk.length + message.length);
  return buf;
}

/** Throws unless `result` has exactly one of the three documented shapes, with sane fields. */
export function assertWellFormed<T>(result: Decoded<T>, buf: Uint8Array, offset: number): void {
  const fail = (why: string): never => {
    throw new Error(`malformed Decoded (${why}): ${JSON.stringify(result)}`);
  };
  if (result === null || typeof result !== "object") fail("not an object");
  const keys = Object.keys(result).sort().join(",");
  switch (result.status) {
    case "ok":
      if (keys !== "length,status,value") fail(`keys ${keys}`);
      if (!Number.isInteger(result.length) || result.length < 1) fail("length");
      if (offset + result.length > buf.length) fail("length past the end of the buffer");
      if (result.value === null || typeof result.value !== "object") fail("value");
      return;
    case "incomplete":
      if (keys !== "status") fail(`keys ${keys}`);
      return;
    case "invalid": {
      if (keys !== "error,status") fail(`keys ${keys}`);
      const error = result.error;
      if (!(error instanceof SocksProtocolError)) fail("error class");
      if (!(SOCKS_ERROR_CODES as readonly string[]).includes(error.code)) fail("code");
      if (typeof error.message !== "string" || error.message.length === 0) fail("message");
      if (!Number.isInteger(error.offset)) fail("offset");
      if (error.reply !== undefined && !(Number.isInteger(error.reply) && error.reply >= 0)) {
        fail("reply");
      }
      if (error.reply !== undefined && error.reply > 0xff) fail("reply");
      return;
    }
    default:
      fail("status");
  }
}

/** Every proper prefix of `message`, placed after `junk`, must decode as incomplete. */
export function assertPrefixesIncomplete(
  decode: (buf: Uint8Array, offset: number) => Decoded<unknown>,
  message: Uint8Array,
  junk: Uint8Array,
): void {
  for (let cut = 0; cut < message.length; cut++) {
    const buf = embed(junk, message.subarray(0, cut), new Uint8Array(0));
    const result = decode(buf, junk.length);
    if (result.status !== "incomplete") {
      throw new Error(`prefix of ${cut}/${message.length} bytes gave ${show(result)}`);
    }
  }
}

function show(result: Decoded<unknown>): string {
  return result.status === "invalid"
    ? `invalid ${result.error.code}: ${result.error.message}`
    : JSON.stringify(result);
}

/** Unwraps an ok result or fails the test with what came back instead. */
export function expectOk<T>(result: Decoded<T>): { value: T; length: number } {
  if (result.status !== "ok") throw new Error(`expected ok, got ${show(result)}`);
  return result;
}

/** Unwraps an invalid result or fails the test with what came back instead. */
export function expectInvalid<T>(result: Decoded<T>): SocksProtocolError {
  if (result.status !== "invalid") throw new Error(`expected invalid, got ${show(result)}`);
  return result.error;
}

export function bytes(...values: (number | readonly number[] | string)[]): Buffer {
  const out: number[] = [];
  for (const v of values) {
    if (typeof v === "number") out.push(v);
    else if (typeof v === "string") out.push(...Buffer.from(v, "latin1"));
    else out.push(...v);
  }
  return Buffer.from(out);
}

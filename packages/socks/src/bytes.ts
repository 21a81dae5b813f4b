import { Buffer, isUtf8 } from "node:buffer";
import { SocksProtocolError } from "./errors";

/** Sockets hand us Buffers, so the common case is free; a plain Uint8Array gets a view, never a copy. */
export function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function readU16(buf: Uint8Array, pos: number): number {
  return (buf[pos]! << 8) | buf[pos + 1]!;
}

export function writeU16(out: Uint8Array, pos: number, value: number): void {
  out[pos] = value >>> 8;
  out[pos + 1] = value & 0xff;
}

/** Latin-1 maps each byte to one code unit, so domains survive a decode/encode round trip unchanged. */
export function readLatin1(buf: Uint8Array, start: number, end: number): string {
  return asBuffer(buf).toString("latin1", start, end);
}

/**
 * Strict UTF-8: returns undefined for malformed input instead of substituting U+FFFD,
 * so two different credentials can never decode to the same string.
 */
export function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  let i = start;
  while (i < end && buf[i]! < 0x80) i++;
  // Usernames are almost always ASCII; only the rest pays for a validating pass.
  if (i < end && !isUtf8(buf.subarray(i, end))) return undefined;
  return asBuffer(buf).toString(i === end ? "latin1" : "utf8", start, end);
}

/** UTF-8 length of a field an encoder is about to write; rejects strings that have no UTF-8 form. */
export function utf8FieldLength(value: string, field: string, offset: number): number {
  if (typeof value !== "string" || !value.isWellFormed()) {
    throw new SocksProtocolError(
      "SOCKS_E_BAD_STRING",
      `${field} is not a well-formed string (lone UTF-16 surrogate or not a string)`,
      { offset },
    );
  }
  return Buffer.byteLength(value, "utf8");
}

/** Index of the first character that does not fit in one Latin-1 byte, or -1. */
export function firstNonLatin1(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) return i;
  }
  return -1;
}

export function writeLatin1(out: Uint8Array, pos: number, value: string): void {
  for (let i = 0; i < value.length; i++) out[pos + i] = value.charCodeAt(i);
}

/** Encoders validate numeric fields because a typed array silently wraps out-of-range values. */
export function checkInteger(value: number, max: number, field: string, offset: number): void {
  if (Number.isInteger(value) && value >= 0 && value <= max) return;
  throw new SocksProtocolError(
    "SOCKS_E_OUT_OF_RANGE",
    `${field} is ${String(value)}, expected an integer from 0 to ${max}`,
    { offset },
  );
}

/**
 * Offset of the first byte that is a control character in Latin-1 (C0, DEL, C1: 0x00-0x1F,
 * 0x7F-0x9F), or -1. Domains are Latin-1 here; the control plane refuses such text in records.
 */
export function controlByteAt(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if (byte < 0x20 || (byte >= 0x7f && byte <= 0x9f)) return i;
  }
  return -1;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Index of the first control character (C0 with NUL, DEL, C1) in decoded text, or -1. */
export function controlCharAt(value: string): number {
  return CONTROL.exec(value)?.index ?? -1;
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAddress, encodeAddress } from "./address";
import type { Decoded } from "./decoded";
import {
  decodeSocks4Reply,
  decodeSocks4Request,
  encodeSocks4Reply,
  encodeSocks4Request,
} from "./socks4";
import {
  decodeGreeting,
  decodeMethodSelection,
  decodeReply,
  decodeRequest,
  encodeGreeting,
  encodeMethodSelection,
  encodeReply,
  encodeRequest,
} from "./socks5";
import { assertWellFormed, byte, port, socksAddress } from "./test-support";
import { decodeUdpHeader, encodeUdpHeader } from "./udp";
import {
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeUserPassReply,
  encodeUserPassRequest,
} from "./userpass";

interface Codec {
  decode: (buf: Uint8Array, offset?: number) => Decoded<unknown>;
  /** Re-encodes a decoded value; the wire format is canonical, so this must give back the bytes read. */
  encode: (value: never) => Uint8Array;
  /** A valid message to mutate. */
  sample: fc.Arbitrary<Uint8Array>;
  /** Where the wire allows several spellings of one value: the spelling the encoder picks. */
  canonical?: (consumed: Uint8Array) => Uint8Array;
}

const codecs: Record<string, Codec> = {
  decodeGreeting: {
    decode: decodeGreeting,
    encode: encodeGreeting,
    sample: fc
      .array(byte, { minLength: 1, maxLength: 8 })
      .map((methods) => encodeGreeting({ methods })),
  },
  decodeMethodSelection: {
    decode: decodeMethodSelection,
    encode: (v: { method: number }) => encodeMethodSelection(v.method),
    sample: byte.map(encodeMethodSelection),
  },
  decodeRequest: {
    decode: decodeRequest,
    encode: encodeRequest,
    sample: fc
      .record({
        command: fc.constantFrom("connect", "bind", "udp-associate" as const),
        address: socksAddress,
        port,
      })
      .map(encodeRequest),
  },
  decodeReply: {
    decode: decodeReply,
    encode: encodeReply,
    sample: fc.record({ reply: byte, address: socksAddress, port }).map(encodeReply),
  },
  decodeAddress: {
    decode: decodeAddress,
    encode: (
      v: Parameters<typeof encodeAddress>[0] extends infer A ? { address: A; port: number } : never,
    ) => encodeAddress(v.address, v.port),
    sample: fc.tuple(socksAddress, port).map(([a, p]) => encodeAddress(a, p)),
  },
  decodeUserPassRequest: {
    decode: decodeUserPassRequest,
    encode: encodeUserPassRequest,
    sample: fc
      .record({
        username: fc.string({ minLength: 1, maxLength: 12 }),
        password: fc.string({ maxLength: 12 }),
      })
      .map(encodeUserPassRequest),
  },
  decodeUserPassReply: {
    decode: decodeUserPassReply,
    encode: (v: { ok: boolean }) => encodeUserPassReply(v.ok),
    sample: fc.boolean().map(encodeUserPassReply),
    // RFC 1929 folds every non-zero STATUS into "failure".
    canonical: (consumed) => Uint8Array.of(consumed[0]!, consumed[1] === 0 ? 0 : 1),
  },
  decodeSocks4Request: {
    decode: decodeSocks4Request,
    encode: encodeSocks4Request,
    sample: fc
      .record({
        command: fc.constantFrom("connect", "bind" as const),
        port,
        address: fc.constantFrom(
          { type: "ipv4" as const, host: "10.0.0.1" },
          { type: "domain" as const, host: "example.com" },
        ),
        userId: fc.string({ maxLength: 12 }).filter((u) => !u.includes("\0")),
      })
      .map(encodeSocks4Request),
    // Any SOCKS4a marker 0.0.0.x means the same; the encoder always sends 0.0.0.1.
    canonical: (consumed) => {
      const copy = Uint8Array.from(consumed);
      if (copy[4] === 0 && copy[5] === 0 && copy[6] === 0 && copy[7] !== 0) copy[7] = 1;
      return copy;
    },
  },
  decodeSocks4Reply: {
    decode: decodeSocks4Reply,
    encode: encodeSocks4Reply,
    sample: fc.record({ reply: byte, port, host: fc.constant("1.2.3.4") }).map(encodeSocks4Reply),
  },
  decodeUdpHeader: {
    decode: decodeUdpHeader,
    encode: encodeUdpHeader,
    sample: fc.record({ frag: byte, address: socksAddress, port }).map(encodeUdpHeader),
  },
};

/** Bytes drawn mostly from the values protocol fields take, so random input gets past the first checks. */
const protocolish = fc
  .array(fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 0xff), byte), { maxLength: 300 })
  .map((values) => Uint8Array.from(values));

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 600 }), protocolish);

/** Valid messages with a few bytes overwritten and maybe cut short. */
function mutated(sample: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(sample, fc.array(fc.tuple(fc.nat(), byte), { maxLength: 3 }), fc.nat(), fc.boolean())
    .map(([message, edits, cut, truncate]) => {
      const buf = Uint8Array.from(message);
      for (const [at, value] of edits) buf[at % buf.length] = value;
      return truncate ? buf.subarray(0, cut % (buf.length + 1)) : buf;
    });
}

const offsetInto = (buf: Uint8Array) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: buf.length }) },
    fc.integer({ min: -3, max: buf.length + 3 }),
    fc.constantFrom(Number.NaN, 0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53),
  );

function check(codec: Codec, buf: Uint8Array, offset: number): void {
  const result = codec.decode(buf, offset);
  assertWellFormed(result, buf, offset);
  if (result.status === "invalid" && result.error.code !== "SOCKS_E_BAD_OFFSET") {
    // The error points at a byte that was actually read.
    expect(result.error.offset).toBeGreaterThanOrEqual(offset);
    expect(result.error.offset).toBeLessThan(buf.length);
  }
  if (result.status === "ok") {
    const consumed = buf.subarray(offset, offset + result.length);
    const expected = codec.canonical ? codec.canonical(consumed) : consumed;
    expect(Array.from(codec.encode(result.value as never))).toEqual(Array.from(expected));
  }
}

describe.each(Object.entries(codecs))("%s on hostile input", (_name, codec) => {
  it("never throws on random bytes at any offset and returns a well-formed Decoded", () => {
    fc.assert(
      fc.property(
        anyBytes.chain((buf) => fc.tuple(fc.constant(buf), offsetInto(buf))),
        ([buf, offset]) => check(codec, buf, offset),
      ),
      { numRuns: 3000 },
    );
  });

  it("never throws on mutated valid messages", () => {
    fc.assert(
      fc.property(mutated(codec.sample), fc.uint8Array({ maxLength: 8 }), (message, junk) => {
        const buf = new Uint8Array(junk.length + message.length);
        buf.set(junk);
        buf.set(message, junk.length);
        check(codec, buf, junk.length);
      }),
      { numRuns: 3000 },
    );
  });

  it("defaults the offset to 0", () => {
    fc.assert(
      fc.property(codec.sample, (message) => {
        expect(codec.decode(message)).toEqual(codec.decode(message, 0));
      }),
    );
  });
});

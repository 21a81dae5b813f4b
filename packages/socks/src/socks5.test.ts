import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuthMethod, Reply } from "./constants";
import { INCOMPLETE } from "./decoded";
import { SocksProtocolError } from "./errors";
import {
  decodeGreeting,
  decodeMethodSelection,
  decodeReply,
  decodeRequest,
  encodeGreeting,
  encodeMethodSelection,
  encodeReply,
  encodeRequest,
  failureReply,
  type Request,
} from "./socks5";
import {
  assertPrefixesIncomplete,
  byte,
  bytes,
  embed,
  expectInvalid,
  expectOk,
  port,
  socksAddress,
  surroundings,
} from "./test-support";

describe("greeting", () => {
  it("decodes VER NMETHODS METHODS and reports the bytes used", () => {
    expect(decodeGreeting(bytes(5, 2, 0, 2, 0xaa))).toEqual({
      status: "ok",
      value: { methods: [AuthMethod.None, AuthMethod.UserPass] },
      length: 4,
    });
  });

  it("waits for the whole method list", () => {
    expect(decodeGreeting(bytes())).toBe(INCOMPLETE);
    expect(decodeGreeting(bytes(5))).toEqual({ status: "incomplete" });
    expect(decodeGreeting(bytes(5, 3, 0, 1))).toEqual({ status: "incomplete" });
  });

  it("refuses a SOCKS4 or HTTP client on the first byte", () => {
    const error = expectInvalid(decodeGreeting(bytes(4)));
    expect(error.code).toBe("SOCKS_E_BAD_VERSION");
    expect(error.offset).toBe(0);
    expect(error.reply).toBeUndefined();
    expect(error.message).toBe("SOCKS5 greeting: VER (byte 0) is 0x04, expected 0x05");
    expect(expectInvalid(decodeGreeting(bytes("GET / HTTP/1.1"))).message).toContain("0x47 ('G')");
  });

  it("refuses NMETHODS 0", () => {
    const error = expectInvalid(decodeGreeting(bytes(7, 5, 0), 1));
    expect(error.code).toBe("SOCKS_E_NO_METHODS");
    expect(error.offset).toBe(2);
  });

  it("encodes, and refuses what cannot be encoded", () => {
    expect(encodeGreeting({ methods: [0, 2] })).toEqual(bytes(5, 2, 0, 2));
    expect(() => encodeGreeting({ methods: [] })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_NO_METHODS" }),
    );
    expect(() => encodeGreeting({ methods: new Array(256).fill(0) })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_FIELD_TOO_LONG" }),
    );
    expect(() => encodeGreeting({ methods: [256] })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
    expect(() => encodeGreeting({ methods: [1.5] })).toThrow(SocksProtocolError);
  });

  it("round-trips, at any offset, with anything after it", () => {
    fc.assert(
      fc.property(fc.array(byte, { minLength: 1, maxLength: 255 }), surroundings, (methods, s) => {
        const message = encodeGreeting({ methods });
        expect(decodeGreeting(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: { methods },
          length: message.length,
        });
        assertPrefixesIncomplete(decodeGreeting, message, s.junk);
      }),
    );
  });
});

describe("method selection", () => {
  it("encodes and decodes 05 METHOD", () => {
    expect(encodeMethodSelection(AuthMethod.NoAcceptable)).toEqual(bytes(5, 0xff));
    expect(decodeMethodSelection(bytes(5, 2))).toEqual({
      status: "ok",
      value: { method: 2 },
      length: 2,
    });
    expect(decodeMethodSelection(bytes(5))).toBe(INCOMPLETE);
  });

  it("refuses a bad version and an out-of-range method", () => {
    expect(expectInvalid(decodeMethodSelection(bytes(1, 0))).code).toBe("SOCKS_E_BAD_VERSION");
    expect(() => encodeMethodSelection(-1)).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(byte, surroundings, (method, s) => {
        const message = encodeMethodSelection(method);
        const result = decodeMethodSelection(embed(s.junk, message, s.tail), s.junk.length);
        expect(result).toEqual({ status: "ok", value: { method }, length: 2 });
        assertPrefixesIncomplete(decodeMethodSelection, message, s.junk);
      }),
    );
  });
});

describe("request", () => {
  it("decodes CONNECT to an IPv4 address", () => {
    expect(decodeRequest(bytes(5, 1, 0, 1, [127, 0, 0, 1], 0x01, 0xbb))).toEqual({
      status: "ok",
      value: { command: "connect", address: { type: "ipv4", host: "127.0.0.1" }, port: 443 },
      length: 10,
    });
  });

  it("decodes BIND to a domain and UDP ASSOCIATE to an IPv6 address", () => {
    expect(expectOk(decodeRequest(bytes(5, 2, 0, 3, 11, "example.com", 0, 80))).value).toEqual({
      command: "bind",
      address: { type: "domain", host: "example.com" },
      port: 80,
    });
    const v6 = bytes(5, 3, 0, 4, [0x20, 0x01, 0x0d, 0xb8], new Array(11).fill(0), 1, 0, 53);
    expect(expectOk(decodeRequest(v6)).value).toEqual({
      command: "udp-associate",
      address: { type: "ipv6", host: "2001:db8::1" },
      port: 53,
    });
  });

  it("passes an empty domain through (the relay refuses it, not the codec)", () => {
    expect(expectOk(decodeRequest(bytes(5, 1, 0, 3, 0, 0, 80))).value.address).toEqual({
      type: "domain",
      host: "",
    });
  });

  it("keeps non-ASCII domain bytes losslessly as Latin-1", () => {
    const result = expectOk(decodeRequest(bytes(5, 1, 0, 3, 2, 0xff, 0xa0, 0, 80)));
    expect(result.value.address.host).toBe("\u00ff\u00a0");
    expect(encodeRequest(result.value)).toEqual(bytes(5, 1, 0, 3, 2, 0xff, 0xa0, 0, 80));
  });

  it.each([0x00, 0x0a, 0x1b, 0x7f, 0x80, 0x9f])(
    "answers a domain holding control byte %i with reply 0x04 (host unreachable)",
    (control) => {
      const error = expectInvalid(decodeRequest(bytes(5, 1, 0, 3, 3, "a", control, "b", 0, 80)));
      expect(error.code).toBe("SOCKS_E_CONTROL_CHARACTER");
      expect(error.reply).toBe(Reply.HostUnreachable);
      expect(error.offset).toBe(6);
    },
  );

  it("answers an unknown CMD with reply 0x07", () => {
    const error = expectInvalid(decodeRequest(bytes(5, 9)));
    expect(error.code).toBe("SOCKS_E_BAD_COMMAND");
    expect(error.reply).toBe(Reply.CommandNotSupported);
    expect(error.offset).toBe(1);
    expect(error.message).toBe(
      "SOCKS5 request: CMD (byte 1) is 0x09, expected 0x01 (CONNECT), 0x02 (BIND) or 0x03 (UDP ASSOCIATE)",
    );
    expect(expectInvalid(decodeRequest(bytes(5, 0, 0, 1))).reply).toBe(0x07);
  });

  it("answers an unknown ATYP with reply 0x08", () => {
    for (const atyp of [0, 2, 5, 0xff]) {
      const error = expectInvalid(decodeRequest(bytes(5, 1, 0, atyp), 0));
      expect(error.code).toBe("SOCKS_E_BAD_ATYP");
      expect(error.reply).toBe(Reply.AddressTypeNotSupported);
      expect(error.offset).toBe(3);
    }
  });

  it("answers a bad version or nonzero RSV with reply 0x01", () => {
    const version = expectInvalid(decodeRequest(bytes(4, 1, 0, 1)));
    expect(version.code).toBe("SOCKS_E_BAD_VERSION");
    expect(version.reply).toBe(Reply.GeneralFailure);
    const reserved = expectInvalid(decodeRequest(bytes(0xaa, 5, 1, 7, 1), 1));
    expect(reserved.code).toBe("SOCKS_E_RESERVED_NONZERO");
    expect(reserved.reply).toBe(Reply.GeneralFailure);
    expect(reserved.offset).toBe(3);
    expect(reserved.message).toBe("SOCKS5 request: RSV (byte 2) is 0x07, expected 0x00");
  });

  it("refuses a bad field as soon as its byte arrives", () => {
    // CMD is wrong: no need to wait for the address.
    expect(expectInvalid(decodeRequest(bytes(5, 4))).code).toBe("SOCKS_E_BAD_COMMAND");
    expect(expectInvalid(decodeRequest(bytes(5, 1, 1))).code).toBe("SOCKS_E_RESERVED_NONZERO");
  });

  it("refuses a bad offset instead of throwing", () => {
    for (const offset of [-1, 11, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = expectInvalid(decodeRequest(bytes(5, 1, 0, 1, [1, 2, 3, 4], 0, 80), offset));
      expect(error.code).toBe("SOCKS_E_BAD_OFFSET");
      expect(error.reply).toBe(Reply.GeneralFailure);
    }
    expect(decodeRequest(bytes(5, 1, 0, 1, [1, 2, 3, 4], 0, 80), 10)).toBe(INCOMPLETE);
  });

  it("reads a plain Uint8Array as well as a Buffer", () => {
    const buf = new Uint8Array([0, 5, 1, 0, 3, 1, 0x61, 0, 80]).subarray(1);
    expect(expectOk(decodeRequest(buf)).value.address.host).toBe("a");
  });

  it("encodes, and refuses an unknown command", () => {
    const request: Request = {
      command: "connect",
      address: { type: "ipv6", host: "::FFFF:10.0.0.1" },
      port: 8080,
    };
    expect(encodeRequest(request)).toEqual(
      bytes(5, 1, 0, 4, new Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1, 0x1f, 0x90),
    );
    expect(() => encodeRequest({ ...request, command: "listen" as "connect" })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_BAD_COMMAND" }),
    );
  });

  it("round-trips every command and address type", () => {
    const command = fc.constantFrom("connect", "bind", "udp-associate" as const);
    fc.assert(
      fc.property(command, socksAddress, port, surroundings, (cmd, address, p, s) => {
        const request: Request = { command: cmd, address, port: p };
        const message = encodeRequest(request);
        expect(decodeRequest(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: request,
          length: message.length,
        });
        assertPrefixesIncomplete(decodeRequest, message, s.junk);
      }),
    );
  });
});

describe("reply", () => {
  it("encodes a success with the bound address", () => {
    expect(
      encodeReply({
        reply: Reply.Succeeded,
        address: { type: "ipv4", host: "10.1.2.3" },
        port: 1080,
      }),
    ).toEqual(bytes(5, 0, 0, 1, 10, 1, 2, 3, 0x04, 0x38));
  });

  it("decodes any REP, and refuses a bad version, RSV or ATYP", () => {
    expect(expectOk(decodeReply(bytes(5, 0x42, 0, 1, 0, 0, 0, 0, 0, 0))).value.reply).toBe(0x42);
    expect(expectInvalid(decodeReply(bytes(4))).code).toBe("SOCKS_E_BAD_VERSION");
    const reserved = expectInvalid(decodeReply(bytes(5, 0, 1)));
    expect(reserved.code).toBe("SOCKS_E_RESERVED_NONZERO");
    expect(reserved.reply).toBeUndefined();
    const atyp = expectInvalid(decodeReply(bytes(5, 0, 0, 2)));
    expect(atyp.code).toBe("SOCKS_E_BAD_ATYP");
    expect(atyp.reply).toBeUndefined();
    expect(decodeReply(bytes(5, 0))).toBe(INCOMPLETE);
  });

  it("refuses an out-of-range reply code or port", () => {
    const address = { type: "ipv4", host: "0.0.0.0" } as const;
    expect(() => encodeReply({ reply: 256, address, port: 0 })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
    expect(() => encodeReply({ reply: 0, address, port: 65536 })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(byte, socksAddress, port, surroundings, (reply, address, p, s) => {
        const message = encodeReply({ reply, address, port: p });
        expect(decodeReply(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: { reply, address, port: p },
          length: message.length,
        });
        assertPrefixesIncomplete(decodeReply, message, s.junk);
      }),
    );
  });
});

describe("failureReply", () => {
  it("is the 10-byte 0.0.0.0:0 reply, built once per code", () => {
    expect(failureReply(Reply.NotAllowed)).toEqual(bytes(5, 2, 0, 1, 0, 0, 0, 0, 0, 0));
    expect(failureReply(Reply.NotAllowed)).toBe(failureReply(Reply.NotAllowed));
    expect(failureReply(Reply.HostUnreachable)).toEqual(
      encodeReply({ reply: 4, address: { type: "ipv4", host: "0.0.0.0" }, port: 0 }),
    );
  });

  it("refuses a code that is not a byte", () => {
    expect(() => failureReply(300)).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
  });
});

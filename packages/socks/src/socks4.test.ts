import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SocksAddress } from "./address";
import { INCOMPLETE } from "./decoded";
import {
  decodeSocks4Reply,
  decodeSocks4Request,
  encodeSocks4Reply,
  encodeSocks4Request,
  Socks4Reply,
  type Socks4Request,
} from "./socks4";
import {
  assertPrefixesIncomplete,
  byte,
  bytes,
  embed,
  expectInvalid,
  expectOk,
  ipv4Address,
  latin1Char,
  port,
  surroundings,
  utf8Field,
} from "./test-support";

describe("SOCKS4 request", () => {
  it("decodes VN CD DSTPORT DSTIP USERID NUL", () => {
    expect(decodeSocks4Request(bytes(4, 1, 0, 80, [93, 184, 216, 34], "bob", 0, 0xee))).toEqual({
      status: "ok",
      value: {
        command: "connect",
        port: 80,
        address: { type: "ipv4", host: "93.184.216.34" },
        userId: "bob",
      },
      length: 12,
    });
  });

  it("decodes an empty USERID and BIND", () => {
    expect(expectOk(decodeSocks4Request(bytes(4, 2, 0x1f, 0x90, [0, 0, 0, 0], 0))).value).toEqual({
      command: "bind",
      port: 8080,
      address: { type: "ipv4", host: "0.0.0.0" },
      userId: "",
    });
  });

  it("decodes SOCKS4a: DSTIP 0.0.0.x (x != 0) puts a domain after USERID", () => {
    expect(
      decodeSocks4Request(bytes(4, 1, 1, 0xbb, [0, 0, 0, 7], "u", 0, "example.com", 0)),
    ).toEqual({
      status: "ok",
      value: {
        command: "connect",
        port: 443,
        address: { type: "domain", host: "example.com" },
        userId: "u",
      },
      length: 22,
    });
  });

  it("waits for the NUL of USERID and of the 4a domain", () => {
    expect(decodeSocks4Request(bytes(4, 1, 0, 80, 1, 2, 3))).toBe(INCOMPLETE);
    expect(decodeSocks4Request(bytes(4, 1, 0, 80, 1, 2, 3, 4, "bob"))).toBe(INCOMPLETE);
    expect(decodeSocks4Request(bytes(4, 1, 0, 80, 0, 0, 0, 1, 0, "example"))).toBe(INCOMPLETE);
  });

  it("refuses a bad VN or CD on their first byte", () => {
    const version = expectInvalid(decodeSocks4Request(bytes(5)));
    expect(version.code).toBe("SOCKS_E_BAD_VERSION");
    expect(version.message).toBe("SOCKS4 request: VN (byte 0) is 0x05, expected 0x04");
    expect(version.reply).toBeUndefined();
    const command = expectInvalid(decodeSocks4Request(bytes(4, 3)));
    expect(command.code).toBe("SOCKS_E_BAD_COMMAND");
    expect(command.offset).toBe(1);
  });

  it("bounds USERID to 255 bytes so a client cannot make the server buffer forever", () => {
    const head = bytes(4, 1, 0, 80, 1, 2, 3, 4);
    expect(expectOk(decodeSocks4Request(bytes([...head], "a".repeat(255), 0))).length).toBe(264);
    expect(decodeSocks4Request(bytes([...head], "a".repeat(255)))).toBe(INCOMPLETE);
    const error = expectInvalid(decodeSocks4Request(bytes([...head], "a".repeat(256))));
    expect(error.code).toBe("SOCKS_E_TOO_LONG");
    expect(error.offset).toBe(8 + 255);
    expect(error.message).toBe("SOCKS4 request: USERID (from byte 8) has no NUL within 255 bytes");
  });

  it("bounds the SOCKS4a domain to 255 bytes", () => {
    const head = bytes(4, 1, 0, 80, 0, 0, 0, 1, "id", 0);
    const ok = expectOk(decodeSocks4Request(bytes([...head], "d".repeat(255), 0)));
    expect(ok.value.address.host).toHaveLength(255);
    expect(decodeSocks4Request(bytes([...head], "d".repeat(255)))).toBe(INCOMPLETE);
    const error = expectInvalid(decodeSocks4Request(bytes([...head], "d".repeat(256))));
    expect(error.code).toBe("SOCKS_E_TOO_LONG");
    expect(error.offset).toBe(11 + 255);
  });

  it("allows an empty SOCKS4a domain (the relay refuses it, not the codec)", () => {
    const request = expectOk(decodeSocks4Request(bytes(4, 1, 0, 80, 0, 0, 0, 9, 0, 0)));
    expect(request.value.address).toEqual({ type: "domain", host: "" });
  });

  it("refuses a USERID that is not UTF-8", () => {
    const error = expectInvalid(decodeSocks4Request(bytes(4, 1, 0, 80, 1, 2, 3, 4, 0xfe, 0)));
    expect(error.code).toBe("SOCKS_E_BAD_UTF8");
    expect(error.offset).toBe(8);
  });

  it("refuses a USERID or SOCKS4a domain holding a control character", () => {
    const user = expectInvalid(decodeSocks4Request(bytes(4, 1, 0, 80, 1, 2, 3, 4, "a", 0x1b, 0)));
    expect(user.code).toBe("SOCKS_E_CONTROL_CHARACTER");
    expect(user.offset).toBe(9);
    const domain = expectInvalid(
      decodeSocks4Request(bytes(4, 1, 0, 80, 0, 0, 0, 1, 0, "a", 0x7f, "b", 0)),
    );
    expect(domain.code).toBe("SOCKS_E_CONTROL_CHARACTER");
    expect(domain.offset).toBe(10);
  });

  it("encodes SOCKS4 and SOCKS4a", () => {
    expect(
      encodeSocks4Request({
        command: "connect",
        port: 80,
        address: { type: "ipv4", host: "10.0.0.1" },
        userId: "",
      }),
    ).toEqual(bytes(4, 1, 0, 80, 10, 0, 0, 1, 0));
    expect(
      encodeSocks4Request({
        command: "bind",
        port: 80,
        address: { type: "domain", host: "a.b" },
        userId: "u",
      }),
    ).toEqual(bytes(4, 2, 0, 80, 0, 0, 0, 1, "u", 0, "a.b", 0));
  });

  it("refuses requests SOCKS4 cannot carry", () => {
    const base: Socks4Request = {
      command: "connect",
      port: 80,
      address: { type: "ipv4", host: "1.2.3.4" },
      userId: "",
    };
    const code = (change: Partial<Socks4Request>) => {
      try {
        encodeSocks4Request({ ...base, ...change });
        return "encoded";
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    const address = (type: SocksAddress["type"], host: string) => ({ address: { type, host } });
    expect(code({ command: "udp-associate" as "connect" })).toBe("SOCKS_E_BAD_COMMAND");
    expect(code(address("ipv6", "::1"))).toBe("SOCKS_E_BAD_ATYP");
    expect(code(address("ipv4", "0.0.0.7"))).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code(address("ipv4", "1.2.3"))).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code(address("domain", "a\0b"))).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code(address("domain", "ü.example"))).toBe("encoded");
    expect(code(address("domain", "\u0100.example"))).toBe("SOCKS_E_BAD_ADDRESS");
    expect(code(address("domain", "d".repeat(256)))).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code({ userId: "x".repeat(256) })).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code({ userId: "a\0" })).toBe("SOCKS_E_BAD_STRING");
    expect(code({ userId: "\ud800" })).toBe("SOCKS_E_BAD_STRING");
    expect(code({ port: -1 })).toBe("SOCKS_E_OUT_OF_RANGE");
  });

  it("round-trips SOCKS4 and SOCKS4a requests", () => {
    const plainIpv4 = ipv4Address.filter((a) => !/^0\.0\.0\.[1-9]/.test(a.host));
    const domain = fc
      .string({ unit: latin1Char.filter((c) => c !== "\0"), maxLength: 255 })
      .map((host): SocksAddress => ({ type: "domain", host }));
    const request = fc.record({
      command: fc.constantFrom("connect", "bind" as const),
      port,
      address: fc.oneof(plainIpv4, domain),
      userId: utf8Field.filter((u) => !u.includes("\0")),
    });
    fc.assert(
      fc.property(request, surroundings, (r, s) => {
        const message = encodeSocks4Request(r);
        expect(decodeSocks4Request(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: r,
          length: message.length,
        });
        assertPrefixesIncomplete(decodeSocks4Request, message, s.junk);
      }),
    );
  });
});

describe("SOCKS4 reply", () => {
  it("encodes 00 CD DSTPORT DSTIP", () => {
    expect(
      encodeSocks4Reply({ reply: Socks4Reply.Granted, port: 1080, host: "127.0.0.1" }),
    ).toEqual(bytes(0, 0x5a, 0x04, 0x38, 127, 0, 0, 1));
  });

  it("decodes, and refuses VN other than 0", () => {
    expect(decodeSocks4Reply(bytes(0, 0x5b, 0, 0, 0, 0, 0, 0))).toEqual({
      status: "ok",
      value: { reply: Socks4Reply.Rejected, port: 0, host: "0.0.0.0" },
      length: 8,
    });
    expect(decodeSocks4Reply(bytes(0, 0x5a, 0))).toBe(INCOMPLETE);
    const error = expectInvalid(decodeSocks4Reply(bytes(4, 0x5a)));
    expect(error.code).toBe("SOCKS_E_BAD_VERSION");
    expect(error.message).toBe("SOCKS4 reply: VN (byte 0) is 0x04, expected 0x00");
  });

  it("refuses a host that is not IPv4", () => {
    expect(() => encodeSocks4Reply({ reply: 0x5a, port: 0, host: "::1" })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_BAD_ADDRESS" }),
    );
    expect(() => encodeSocks4Reply({ reply: 0x100, port: 0, host: "0.0.0.0" })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(byte, port, ipv4Address, surroundings, (reply, p, address, s) => {
        const value = { reply, port: p, host: address.host };
        const message = encodeSocks4Reply(value);
        expect(decodeSocks4Reply(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value,
          length: 8,
        });
        assertPrefixesIncomplete(decodeSocks4Reply, message, s.junk);
      }),
    );
  });
});

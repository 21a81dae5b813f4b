import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INCOMPLETE } from "./decoded";
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
import { decodeUdpHeader, encodeUdpDatagram, encodeUdpHeader, type UdpHeader } from "./udp";

describe("UDP request header", () => {
  it("decodes RSV FRAG ATYP DST.ADDR DST.PORT and leaves the payload", () => {
    const datagram = bytes(0, 0, 0, 1, 8, 8, 8, 8, 0, 53, "query");
    const { value, length } = expectOk(decodeUdpHeader(datagram));
    expect(value).toEqual({ frag: 0, address: { type: "ipv4", host: "8.8.8.8" }, port: 53 });
    expect(length).toBe(10);
    expect(datagram.subarray(length).toString()).toBe("query");
  });

  it("passes FRAG through for the relay to decide", () => {
    expect(expectOk(decodeUdpHeader(bytes(0, 0, 0x81, 3, 1, "h", 0, 1))).value.frag).toBe(0x81);
  });

  it("calls a truncated datagram incomplete", () => {
    expect(decodeUdpHeader(bytes(0, 0, 0, 4, 0, 0))).toBe(INCOMPLETE);
  });

  it("refuses nonzero RSV and an unknown ATYP, with no SOCKS5 reply to send", () => {
    const first = expectInvalid(decodeUdpHeader(bytes(1)));
    expect(first.code).toBe("SOCKS_E_RESERVED_NONZERO");
    expect(first.offset).toBe(0);
    expect(first.reply).toBeUndefined();
    const second = expectInvalid(decodeUdpHeader(bytes(0, 2)));
    expect(second.offset).toBe(1);
    expect(second.message).toBe("SOCKS5 UDP header: RSV (byte 1) is 0x02, expected 0x00");
    const atyp = expectInvalid(decodeUdpHeader(bytes(0, 0, 0, 9)));
    expect(atyp.code).toBe("SOCKS_E_BAD_ATYP");
    expect(atyp.reply).toBeUndefined();
    expect(atyp.offset).toBe(3);
  });

  it("encodes the header alone or with its payload in one buffer", () => {
    const header: UdpHeader = { frag: 0, address: { type: "domain", host: "a" }, port: 7 };
    expect(encodeUdpHeader(header)).toEqual(bytes(0, 0, 0, 3, 1, "a", 0, 7));
    expect(encodeUdpDatagram(header, bytes("hi"))).toEqual(bytes(0, 0, 0, 3, 1, "a", 0, 7, "hi"));
    expect(() => encodeUdpHeader({ ...header, frag: 256 })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
  });

  it("round-trips headers and datagrams", () => {
    const header = fc.record({ frag: byte, address: socksAddress, port });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), surroundings, (h, payload, s) => {
        const message = encodeUdpHeader(h);
        expect(decodeUdpHeader(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: h,
          length: message.length,
        });
        assertPrefixesIncomplete(decodeUdpHeader, message, s.junk);
        const datagram = encodeUdpDatagram(h, payload);
        const decoded = expectOk(decodeUdpHeader(datagram));
        expect(decoded.value).toEqual(h);
        expect(new Uint8Array(datagram.subarray(decoded.length))).toEqual(payload);
      }),
    );
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INCOMPLETE } from "./decoded";
import {
  assertPrefixesIncomplete,
  bytes,
  embed,
  expectInvalid,
  expectOk,
  surroundings,
  utf8Field,
} from "./test-support";
import {
  decodeUserPassReply,
  decodeUserPassRequest,
  encodeUserPassReply,
  encodeUserPassRequest,
} from "./userpass";

describe("RFC 1929 request", () => {
  it("decodes VER ULEN UNAME PLEN PASSWD", () => {
    expect(decodeUserPassRequest(bytes(1, 5, "alice", 6, "s3cret", 0x05))).toEqual({
      status: "ok",
      value: { username: "alice", password: "s3cret" },
      length: 14,
    });
  });

  it("decodes UTF-8 credentials and an empty password", () => {
    const name = Buffer.from("zoë", "utf8");
    expect(expectOk(decodeUserPassRequest(bytes(1, name.length, [...name], 0))).value).toEqual({
      username: "zoë",
      password: "",
    });
  });

  it("waits for both fields", () => {
    expect(decodeUserPassRequest(bytes(1, 3, "bo"))).toBe(INCOMPLETE);
    expect(decodeUserPassRequest(bytes(1, 3, "bob"))).toBe(INCOMPLETE);
    expect(decodeUserPassRequest(bytes(1, 3, "bob", 2, "x"))).toBe(INCOMPLETE);
  });

  it("refuses VER other than 1, naming the byte", () => {
    const error = expectInvalid(decodeUserPassRequest(bytes(5, 1, 0)));
    expect(error.code).toBe("SOCKS_E_BAD_AUTH_VERSION");
    expect(error.offset).toBe(0);
    expect(error.reply).toBeUndefined();
    expect(error.message).toBe("RFC 1929 request: VER (byte 0) is 0x05, expected 0x01");
  });

  it("refuses an empty username", () => {
    const error = expectInvalid(decodeUserPassRequest(bytes(1, 0, 0)));
    expect(error.code).toBe("SOCKS_E_EMPTY_USERNAME");
    expect(error.offset).toBe(1);
  });

  it("refuses credentials that are not UTF-8 rather than guessing", () => {
    const user = expectInvalid(decodeUserPassRequest(bytes(1, 2, 0xc3, 0x28, 0)));
    expect(user.code).toBe("SOCKS_E_BAD_UTF8");
    expect(user.offset).toBe(2);
    expect(user.message).toBe("RFC 1929 request: UNAME (bytes 2-3) is not valid UTF-8");
    const password = expectInvalid(decodeUserPassRequest(bytes(1, 1, "a", 1, 0xff)));
    expect(password.code).toBe("SOCKS_E_BAD_UTF8");
    expect(password.offset).toBe(4);
  });

  it("refuses credentials holding a control character (NUL, ESC, C1)", () => {
    const user = expectInvalid(decodeUserPassRequest(bytes(1, 3, "a", 0, "b", 0)));
    expect(user.code).toBe("SOCKS_E_CONTROL_CHARACTER");
    expect(user.offset).toBe(3);
    expect(user.message).toBe("RFC 1929 request: UNAME holds a control character (byte 3)");
    // U+0085 is C2 85 in UTF-8: refused as the character, not the byte.
    const c1 = expectInvalid(decodeUserPassRequest(bytes(1, 4, 0xc3, 0xa9, 0xc2, 0x85, 0)));
    expect(c1.code).toBe("SOCKS_E_CONTROL_CHARACTER");
    expect(c1.offset).toBe(4);
    const password = expectInvalid(decodeUserPassRequest(bytes(1, 1, "a", 2, "x", 0x1b)));
    expect(password.code).toBe("SOCKS_E_CONTROL_CHARACTER");
    expect(password.offset).toBe(5);
  });

  it("encodes, and refuses what RFC 1929 cannot carry", () => {
    expect(encodeUserPassRequest({ username: "a", password: "b" })).toEqual(
      bytes(1, 1, "a", 1, "b"),
    );
    const code = (username: string, password: string) => {
      try {
        encodeUserPassRequest({ username, password });
        return "encoded";
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    expect(code("", "x")).toBe("SOCKS_E_EMPTY_USERNAME");
    expect(code("a".repeat(256), "x")).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code("é".repeat(128), "x")).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code("a".repeat(255), "p".repeat(255))).toBe("encoded");
    expect(code("a", "p".repeat(256))).toBe("SOCKS_E_FIELD_TOO_LONG");
    expect(code("\ud800", "x")).toBe("SOCKS_E_BAD_STRING");
    expect(code("a", "\udfff")).toBe("SOCKS_E_BAD_STRING");
  });

  it("round-trips any credentials that fit", () => {
    const username = utf8Field.filter((u) => u.length > 0);
    fc.assert(
      fc.property(username, utf8Field, surroundings, (u, p, s) => {
        const message = encodeUserPassRequest({ username: u, password: p });
        expect(decodeUserPassRequest(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: { username: u, password: p },
          length: message.length,
        });
        assertPrefixesIncomplete(decodeUserPassRequest, message, s.junk);
      }),
    );
  });
});

describe("RFC 1929 reply", () => {
  it("encodes 01 00 and 01 01", () => {
    expect(encodeUserPassReply(true)).toEqual(bytes(1, 0));
    expect(encodeUserPassReply(false)).toEqual(bytes(1, 1));
  });

  it("treats any non-zero STATUS as failure", () => {
    expect(expectOk(decodeUserPassReply(bytes(1, 0))).value).toEqual({ ok: true });
    expect(expectOk(decodeUserPassReply(bytes(1, 0x7f))).value).toEqual({ ok: false });
    expect(decodeUserPassReply(bytes(1))).toBe(INCOMPLETE);
    expect(expectInvalid(decodeUserPassReply(bytes(5, 0))).code).toBe("SOCKS_E_BAD_AUTH_VERSION");
  });

  it("round-trips", () => {
    fc.assert(
      fc.property(fc.boolean(), surroundings, (ok, s) => {
        const message = encodeUserPassReply(ok);
        expect(decodeUserPassReply(embed(s.junk, message, s.tail), s.junk.length)).toEqual({
          status: "ok",
          value: { ok },
          length: 2,
        });
        assertPrefixesIncomplete(decodeUserPassReply, message, s.junk);
      }),
    );
  });
});

import { describe, expect, it } from "vitest";
import { describeByte, SOCKS_ERROR_CODES, SocksProtocolError } from "./errors";

describe("SocksProtocolError", () => {
  it("carries code, reply, offset and cause", () => {
    const cause = new Error("inner");
    const error = new SocksProtocolError("SOCKS_E_BAD_ATYP", "bad", { offset: 3, reply: 8, cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("SocksProtocolError");
    expect(error.code).toBe("SOCKS_E_BAD_ATYP");
    expect(error.reply).toBe(8);
    expect(error.offset).toBe(3);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe("bad");
  });

  it("leaves reply and cause undefined when not given", () => {
    const error = new SocksProtocolError("SOCKS_E_TOO_LONG", "x", { offset: 0 });
    expect(error.reply).toBeUndefined();
    expect("cause" in error).toBe(false);
  });

  it("has unique, prefixed codes", () => {
    expect(new Set(SOCKS_ERROR_CODES).size).toBe(SOCKS_ERROR_CODES.length);
    for (const code of SOCKS_ERROR_CODES) expect(code).toMatch(/^SOCKS_E_[A-Z0-9_]+$/);
  });
});

describe("describeByte", () => {
  it("shows hex, and the character when printable", () => {
    expect(describeByte(0)).toBe("0x00");
    expect(describeByte(0x16)).toBe("0x16");
    expect(describeByte(0x43)).toBe("0x43 ('C')");
    expect(describeByte(0x7f)).toBe("0x7f");
    expect(describeByte(0xff)).toBe("0xff");
  });
});

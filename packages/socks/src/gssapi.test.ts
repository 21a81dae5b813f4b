import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGssapiMessage, encodeGssapiMessage, GssapiMessageType } from "./gssapi";

describe("RFC 1961 messages", () => {
  it("round-trips every type and token length, and is incomplete on every shorter prefix", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3),
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        (type, token) => {
          const bytes = encodeGssapiMessage(type, token);
          const decoded = decodeGssapiMessage(bytes);
          expect(decoded.status).toBe("ok");
          if (decoded.status !== "ok") return;
          expect(decoded.length).toBe(bytes.length);
          expect(decoded.value.type).toBe(type);
          expect(Buffer.from(decoded.value.token)).toEqual(Buffer.from(token));
          const cut = bytes.subarray(0, Math.max(0, bytes.length - 1));
          expect(decodeGssapiMessage(cut).status).toBe("incomplete");
        },
      ),
    );
  });

  it("reads the two-byte abort, and decodes at an offset inside a larger buffer", () => {
    expect(decodeGssapiMessage(Buffer.from([1, 0xff]))).toMatchObject({
      status: "ok",
      length: 2,
      value: { type: GssapiMessageType.Abort },
    });
    const two = Buffer.concat([Buffer.from([9]), encodeGssapiMessage(2, Buffer.from([1]))]);
    expect(decodeGssapiMessage(two, 1)).toMatchObject({ status: "ok", length: 5 });
    expect(encodeGssapiMessage(GssapiMessageType.Abort)).toEqual(Buffer.from([1, 0xff]));
  });

  it("refuses a wrong version, an unknown type and an empty token; encoding refuses tokens over 65535 bytes", () => {
    for (const bad of [
      [5, 1, 0, 1, 0],
      [1, 4, 0, 1, 0],
      [1, 1, 0, 0],
    ]) {
      const decoded = decodeGssapiMessage(Buffer.from(bad));
      expect(decoded.status).toBe("invalid");
      if (decoded.status === "invalid")
        expect(decoded.error.code).toBe("SOCKS_E_BAD_GSSAPI_MESSAGE");
    }
    expect(() => encodeGssapiMessage(3, Buffer.alloc(65536))).toThrow(/65535/);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(["ok", "incomplete", "invalid"]).toContain(decodeGssapiMessage(bytes).status);
      }),
    );
  });
});

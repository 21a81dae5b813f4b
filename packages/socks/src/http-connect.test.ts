import { Buffer } from "node:buffer";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Decoded } from "./decoded";
import {
  decodeHttpConnectResponse,
  encodeHttpConnect,
  HTTP_CONNECT_MAX_HEAD_BYTES,
  type HttpConnectResponse,
} from "./http-connect";
import { assertWellFormed, port } from "./test-support";

const bytes = (text: string) => Buffer.from(text, "latin1");

function decoded(text: string): HttpConnectResponse & { length: number } {
  const result = decodeHttpConnectResponse(bytes(text));
  if (result.status !== "ok") throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return { ...result.value, length: result.length };
}

function errorOf(result: Decoded<unknown>) {
  if (result.status !== "invalid") throw new Error(`expected invalid, got ${result.status}`);
  return result.error;
}

describe("encodeHttpConnect", () => {
  it("writes the request line and Host, with IPv6 in brackets", () => {
    expect(encodeHttpConnect({ host: "example.test", port: 443 }).toString("latin1")).toBe(
      "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
    );
    expect(encodeHttpConnect({ host: "::1", port: 8080 }).toString("latin1")).toBe(
      "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    );
  });

  it("adds Basic Proxy-Authorization with UTF-8 credentials", () => {
    const text = encodeHttpConnect({
      host: "127.0.0.1",
      port: 80,
      credentials: { username: "relay", password: "pä:ss" },
    }).toString("latin1");
    const token = /Proxy-Authorization: Basic (\S+)\r\n/.exec(text)![1]!;
    expect(Buffer.from(token, "base64").toString("utf8")).toBe("relay:pä:ss");
  });

  it("refuses hosts and credentials that could break the request", () => {
    for (const host of ["a b", "a\r\nX-Evil: 1", "", "a/b", "x".repeat(256), "1:2:3"]) {
      expect(() => encodeHttpConnect({ host, port: 80 })).toThrow(
        expect.objectContaining({ code: "SOCKS_E_BAD_ADDRESS" }),
      );
    }
    expect(() => encodeHttpConnect({ host: "a", port: 0 })).toThrow(
      expect.objectContaining({ code: "SOCKS_E_OUT_OF_RANGE" }),
    );
    expect(() =>
      encodeHttpConnect({ host: "a", port: 1, credentials: { username: "a:b", password: "" } }),
    ).toThrow(expect.objectContaining({ code: "SOCKS_E_BAD_STRING" }));
    expect(() =>
      encodeHttpConnect({ host: "a", port: 1, credentials: { username: "a", password: "\n" } }),
    ).toThrow(expect.objectContaining({ code: "SOCKS_E_BAD_STRING" }));
  });

  it("puts exactly one request line and one empty line in any request it accepts", () => {
    const hostChar = fc.constantFrom(..."abcxyz0189.-_:[]% \r\n\t/@".split(""));
    fc.assert(
      fc.property(fc.string({ unit: hostChar, minLength: 1, maxLength: 20 }), port, (host, p) => {
        let out: Buffer;
        try {
          out = encodeHttpConnect({ host, port: p });
        } catch {
          return;
        }
        const lines = out.toString("latin1").split("\r\n");
        expect(lines).toEqual([
          `CONNECT ${lines[0]!.split(" ")[1]} HTTP/1.1`,
          `Host: ${lines[0]!.split(" ")[1]}`,
          "",
          "",
        ]);
        expect(lines[0]!.split(" ")).toHaveLength(3);
      }),
    );
  });
});

describe("decodeHttpConnectResponse", () => {
  it("decodes the status and headers and leaves the tunnel's bytes", () => {
    const text = "HTTP/1.1 200 Connection established\r\nProxy-Agent: x/1\r\n\r\nSSH-2.0";
    const response = decoded(text);
    expect(response).toEqual({
      version: "1.1",
      status: 200,
      reason: "Connection established",
      headers: [["Proxy-Agent", "x/1"]],
      length: text.length - "SSH-2.0".length,
    });
  });

  it("accepts bare LF line ends, an empty reason and HTTP/1.0", () => {
    expect(decoded("HTTP/1.0 407\nProxy-Authenticate: Basic\n\n")).toMatchObject({
      version: "1.0",
      status: 407,
      reason: "",
    });
  });

  it("is incomplete until the empty line, at every split", () => {
    const text = "HTTP/1.1 403 Forbidden\r\nA: b\r\n\r\n";
    for (let cut = 0; cut < text.length; cut++) {
      expect(decodeHttpConnectResponse(bytes(text.slice(0, cut))).status).toBe("incomplete");
    }
    expect(decoded(text).status).toBe(403);
  });

  it("refuses a non-HTTP answer on its first bytes (a SOCKS server, say)", () => {
    const error = errorOf(decodeHttpConnectResponse(Uint8Array.of(5, 0)));
    expect(error.code).toBe("SOCKS_E_BAD_HTTP_RESPONSE");
  });

  it("refuses malformed status lines, folding, controls and bad header names", () => {
    for (const text of [
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: \u0000\r\n\r\n",
      "HTTP/1.1 200 O\rK\r\n\r\n",
    ]) {
      expect(errorOf(decodeHttpConnectResponse(bytes(text))).code).toBe(
        "SOCKS_E_BAD_HTTP_RESPONSE",
      );
    }
  });

  it("bounds the head", () => {
    const long = bytes(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(HTTP_CONNECT_MAX_HEAD_BYTES)}`);
    expect(errorOf(decodeHttpConnectResponse(long)).code).toBe("SOCKS_E_TOO_LONG");
    expect(
      decodeHttpConnectResponse(long.subarray(0, HTTP_CONNECT_MAX_HEAD_BYTES - 1)).status,
    ).toBe("incomplete");
  });

  it("never throws on hostile input and only points at bytes it read", () => {
    const unit = fc.constantFrom(..."HTTP/1. 2003\r\n:aZ\t".split(""), "\u0000", "\u00ff");
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit, maxLength: 200 }).map(bytes),
      fc.string({ unit, maxLength: 200 }).map((s) => bytes(`HTTP/1.1 200 OK\r\n${s}`)),
    );
    fc.assert(
      fc.property(input, fc.nat({ max: 4 }), (buf, at) => {
        const offset = Math.min(at, buf.length);
        const result = decodeHttpConnectResponse(buf, offset, 256);
        assertWellFormed(result, buf, offset);
        if (result.status === "invalid") {
          expect(result.error.offset).toBeGreaterThanOrEqual(offset);
          expect(result.error.offset).toBeLessThan(buf.length);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

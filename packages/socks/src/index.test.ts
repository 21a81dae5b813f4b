import { describe, expect, it } from "vitest";
import * as socks from "./index";

describe("public surface", () => {
  it("exports exactly the documented runtime names", () => {
    expect(Object.keys(socks).sort()).toEqual(
      [
        "AuthMethod",
        "HTTP_CONNECT_MAX_HEAD_BYTES",
        "Command",
        "GSSAPI_VERSION",
        "GssapiMessageType",
        "decodeGssapiMessage",
        "encodeGssapiMessage",
        "Reply",
        "SOCKS4_VERSION",
        "SOCKS5_VERSION",
        "Socks4Reply",
        "SocksProtocolError",
        "addressFromHost",
        "decodeAddress",
        "decodeGreeting",
        "decodeHttpConnectResponse",
        "decodeMethodSelection",
        "decodeProxyHeader",
        "decodeReply",
        "decodeRequest",
        "decodeSocks4Reply",
        "decodeSocks4Request",
        "decodeUdpHeader",
        "decodeUserPassReply",
        "decodeUserPassRequest",
        "encodeAddress",
        "encodeGreeting",
        "encodeHttpConnect",
        "encodeMethodSelection",
        "encodeProxyHeaderV1",
        "encodeProxyHeaderV2",
        "encodeReply",
        "encodeRequest",
        "encodeSocks4Reply",
        "encodeSocks4Request",
        "encodeUdpDatagram",
        "encodeUdpHeader",
        "encodeUserPassReply",
        "encodeUserPassRequest",
        "failureReply",
      ].sort(),
    );
  });

  it("has the documented constant values", () => {
    expect(socks.SOCKS5_VERSION).toBe(5);
    expect(socks.SOCKS4_VERSION).toBe(4);
    expect(socks.AuthMethod).toEqual({ None: 0, Gssapi: 1, UserPass: 2, NoAcceptable: 0xff });
    expect(socks.Command).toEqual({ Connect: 1, Bind: 2, UdpAssociate: 3 });
    expect(socks.Reply).toEqual({
      Succeeded: 0,
      GeneralFailure: 1,
      NotAllowed: 2,
      NetworkUnreachable: 3,
      HostUnreachable: 4,
      ConnectionRefused: 5,
      TtlExpired: 6,
      CommandNotSupported: 7,
      AddressTypeNotSupported: 8,
    });
    expect(socks.Socks4Reply).toEqual({
      Granted: 0x5a,
      Rejected: 0x5b,
      NoIdentd: 0x5c,
      IdentMismatch: 0x5d,
    });
  });

  it("exports the documented types under their documented names", () => {
    const reply: socks.Socks4Reply = { reply: socks.Socks4Reply.Granted, port: 1, host: "1.2.3.4" };
    const request: socks.Request = {
      command: "connect",
      address: socks.addressFromHost("a"),
      port: 1,
    };
    const address: socks.SocksAddress = {
      type: "ipv4" satisfies socks.AddressType,
      host: "1.1.1.1",
    };
    const decoded: socks.Decoded<socks.Greeting> = { status: "incomplete" };
    const others: [socks.Reply5?, socks.UserPass?, socks.Socks4Request?, socks.UdpHeader?] = [];
    const names: [socks.CommandName?, socks.SocksErrorCode?] = ["bind", "SOCKS_E_TOO_LONG"];
    expect([reply, request, address, decoded, others, names]).toHaveLength(6);
  });
});

describe("no I/O", () => {
  it("imports nothing from node but node:buffer (tests aside)", async () => {
    const { readdir, readFile } = await import("node:fs/promises");
    const dir = new URL(".", import.meta.url);
    const sources = (await readdir(dir)).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "test-support.ts",
    );
    for (const file of sources) {
      const text = await readFile(new URL(file, dir), "utf8");
      const imports = [...text.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
      for (const specifier of imports) {
        const allowed = specifier === "node:buffer" || specifier?.startsWith("./") === true;
        expect(allowed, `${file} imports ${specifier}`).toBe(true);
      }
    }
  });
});

import { SessionRecord } from "@edgesocks/api/wire";
import { describe, expect, it } from "vitest";
import { connectRequestDomain, RawClient } from "../src/test-support/raw-client";
import { curlVia } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay } from "../src/test-support/test-relay";

const REFUSED = (code: number) => [5, code, 0, 1, 0, 0, 0, 0, 0, 0];

describe("malformed and hostile input", () => {
  it("closes one bad connection per case with the right reply, and keeps serving everyone else", async () => {
    await using target = await startHttpTarget("still serving");
    await using relay = await startTestRelay(`[server]\nhandshake_timeout_ms = 500\n`);

    const cases: { name: string; bytes: number[]; expect: number[] }[] = [
      { name: "unknown version", bytes: [6, 1, 0], expect: [] },
      {
        name: "HTTP instead of SOCKS",
        bytes: [...Buffer.from("GET / HTTP/1.1\r\n\r\n")],
        expect: [],
      },
      { name: "zero methods (RFC 1928: no acceptable method)", bytes: [5, 0], expect: [5, 0xff] },
      { name: "zero methods, then more bytes", bytes: [5, 0, 5, 1, 0], expect: [5, 0xff] },
      { name: "no acceptable method", bytes: [5, 1, 0x80], expect: [5, 0xff] },
      {
        name: "unknown command",
        bytes: [5, 1, 0, 5, 9, 0, 1, 127, 0, 0, 1, 0, 80],
        expect: [5, 0, ...REFUSED(7)],
      },
      {
        name: "unknown address type",
        bytes: [5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80],
        expect: [5, 0, ...REFUSED(8)],
      },
      {
        name: "non-zero reserved byte",
        bytes: [5, 1, 0, 5, 1, 7, 1, 127, 0, 0, 1, 0, 80],
        expect: [5, 0, ...REFUSED(1)],
      },
      {
        name: "wrong version in request",
        bytes: [5, 1, 0, 4, 1, 0, 1, 127, 0, 0, 1, 0, 80],
        expect: [5, 0, ...REFUSED(1)],
      },
      {
        name: "empty domain",
        bytes: [5, 1, 0, 5, 1, 0, 3, 0, 0, 80],
        expect: [5, 0, ...REFUSED(4)],
      },
      {
        name: "0.0.0.0",
        bytes: [5, 1, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 80],
        expect: [5, 0, ...REFUSED(4)],
      },
      {
        name: "unspecified IPv6",
        bytes: [5, 1, 0, 5, 1, 0, 4, ...new Array(16).fill(0), 0, 80],
        expect: [5, 0, ...REFUSED(4)],
      },
      {
        name: "SOCKS4 without NUL-terminated user id",
        bytes: [4, 1, 0, 80, 127, 0, 0, 1, ...new Array(300).fill(65)],
        expect: [0, 0x5b, 0, 0, 0, 0, 0, 0],
      },
      {
        name: "SOCKS4 unknown command",
        bytes: [4, 9, 0, 80, 127, 0, 0, 1, 0],
        expect: [0, 0x5b, 0, 0, 0, 0, 0, 0],
      },
    ];
    for (const c of cases) {
      using client = await RawClient.open(relay.port);
      client.write(c.bytes);
      const got = await client.readToEnd(3000).catch(() => Buffer.from("timeout"));
      expect({ name: c.name, reply: [...got] }).toEqual({ name: c.name, reply: c.expect });
    }
    const result = await curlVia("--socks5", relay.proxy, `http://127.0.0.1:${target.port}/`);
    expect(result.stdout).toBe("still serving");
  });

  it("closes a connection that stops mid-handshake once the handshake timeout passes", async () => {
    await using relay = await startTestRelay(`[server]\nhandshake_timeout_ms = 200\n`);
    using client = await RawClient.open(relay.port);
    client.write([5, 1]);
    await client.closed(2000);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ status: "rejected", closeReason: "handshake_timeout" });
  });

  it("refuses a name that is a numeric IPv4 form when its address is blocked", async () => {
    await using relay = await startTestRelay(
      `[acl]\nenabled = true\nconfig_file = "acl.toml"\n`,
      `[global]\ndefault_policy = "allow"\n[[users]]\nusername = "anonymous"\n[[users.rules]]\naction = "block"\ndestinations = ["127.0.0.0/8"]\nports = ["*"]\n`,
    );
    for (const name of ["2130706433", "127.1", "0x7f.0.0.1"]) {
      using client = await RawClient.open(relay.port);
      client.write([5, 1, 0, ...connectRequestDomain(name, 80)]);
      expect([...(await client.readToEnd())]).toEqual([5, 0, ...REFUSED(2)]);
    }
  });
});

describe("hostile text in SOCKS fields", () => {
  it("refuses control characters in credentials and domains with the right reply; every record is valid wire text", async () => {
    await using relay = await startTestRelay(
      `[auth]\nsocks_method = "userpass"\n[[auth.users]]\nusername = "alice"\npassword = "secret"\n`,
    );
    const userpass = (user: number[], pass: number[]) => [
      1,
      user.length,
      ...user,
      pass.length,
      ...pass,
    ];
    const cases: { name: string; bytes: number[]; expect: number[] }[] = [
      {
        name: "NUL in the username",
        bytes: [5, 1, 2, ...userpass([0x61, 0, 0x62], [0x73])],
        expect: [5, 2, 1, 1],
      },
      {
        name: "ESC in the password",
        bytes: [5, 1, 2, ...userpass([0x61], [0x1b, 0x5b])],
        expect: [5, 2, 1, 1],
      },
    ];
    for (const c of cases) {
      using client = await RawClient.open(relay.port);
      client.write(c.bytes);
      const got = await client.readToEnd(3000).catch(() => Buffer.from("timeout"));
      expect({ name: c.name, reply: [...got] }).toEqual({ name: c.name, reply: c.expect });
    }
    using client = await RawClient.open(relay.port);
    const login = userpass([...Buffer.from("alice")], [...Buffer.from("secret")]);
    client.write([5, 1, 2, ...login, 5, 1, 0, 3, 3, 0x61, 0x85, 0x62, 0, 80]);
    expect([...(await client.readToEnd(3000))]).toEqual([5, 2, 1, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
    // The second refusal with the same reason from the same client is folded into a count
    // record, which a closing relay writes out.
    await relay.waitForRecords(2);
    await relay.relay.close(0);
    const records = relay.records;
    expect(records.reduce((sum, r) => sum + (r.count ?? 1), 0)).toBe(3);
    for (const record of records) {
      expect(record.status).toBe("rejected");
      expect(SessionRecord.safeParse(record).error).toBeUndefined();
    }
  });
});

import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { KdcFixture } from "../src/test-support/kdc-fixture";
import { startRecordingForwarder } from "../src/test-support/recording-forwarder";
import { SYSTEM_PYTHON } from "../src/test-support/run";
import { startEchoTarget } from "../src/test-support/targets";
import { startTestRelay, type TestRelay } from "../src/test-support/test-relay";

// A real MIT KDC on loopback (krb5-kdc, krb5-admin-server, krb5-user), curl's
// GSS-API SOCKS5 client and Debian's python3-gssapi.
let kdc: KdcFixture;
let keytab: string;
let aliceCache: string;
const CLIENT = join(import.meta.dirname, "support", "rfc1961_client.py");
const REALM = KdcFixture.REALM;

beforeAll(async () => {
  kdc = await KdcFixture.start();
  // The relay is the acceptor: its library reads the test realm's krb5.conf too.
  Object.assign(process.env, kdc.env);
  keytab = join(kdc.dir, "relay.keytab");
  kdc.service("rcmd/localhost", keytab);
  // A service the KDC issues tickets for, whose keys the relay does not hold.
  kdc.service("other/localhost");
  kdc.user("alice", "alice-pw");
  aliceCache = kdc.kinit("alice", "alice-pw");
});

afterAll(async () => {
  await kdc?.dispose();
});

function gssRelay(gssapi: string, acl?: string, necClearMode = true): Promise<TestRelay> {
  return startTestRelay(
    `
[auth]
socks_method = "gssapi"
[auth.gssapi]
keytab_path = "${keytab}"
nec_clear_mode = ${necClearMode}
${gssapi}
${acl ? '[acl]\nenabled = true\nconfig_file = "acl.toml"\n' : ""}`,
    acl,
  );
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runWith(file: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...kdc.env, ...env }, timeout: 15_000, encoding: "utf8" },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : null) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

describe("GSS-API (RFC 1961) against a real MIT KDC", () => {
  it("refuses a ticket for another service and keeps serving others", async () => {
    await using relay = await gssRelay("");
    const wrong = await runWith(
      SYSTEM_PYTHON,
      [CLIENT, String(relay.port), "other@localhost", "nec"],
      { KRB5CCNAME: aliceCache },
    );
    expect(wrong.stdout.trim()).toBe("abort-context");
    await using echo = await startEchoTarget();
    const ok = await runWith(
      SYSTEM_PYTHON,
      [CLIENT, String(relay.port), "rcmd@localhost", "nec", String(echo.port)],
      { KRB5CCNAME: aliceCache },
    );
    // Logged in, then a CONNECT and data both ways over the authenticated session.
    expect(ok.stdout.trim().split("\n")).toEqual(["level 0", "reply 0", "echo ping"]);
    const records = await relay.waitForRecords(2);
    const refused = records.find((r) => r.status === "rejected" && r.closeReason === "auth_failed");
    expect(refused).toBeDefined();
    expect(records.find((r) => r.user === `alice@${REALM}`)).toMatchObject({
      command: "connect",
      destinationPort: echo.port,
      bytesUp: 4,
      bytesDown: 4,
    });
  });

  it("answers an RFC 1961 client with an abort, not an unprotected session, when no protection_level is set", async () => {
    await using relay = await gssRelay("");
    const rfc = await runWith(
      SYSTEM_PYTHON,
      [CLIENT, String(relay.port), "rcmd@localhost", "rfc1961"],
      {
        KRB5CCNAME: aliceCache,
      },
    );
    expect(rfc.stderr).toBe("");
    expect(rfc.stdout.trim()).toBe("abort");
    const nec = await runWith(
      SYSTEM_PYTHON,
      [CLIENT, String(relay.port), "rcmd@localhost", "nec"],
      {
        KRB5CCNAME: aliceCache,
      },
    );
    expect(nec.stdout.trim()).toBe("level 0");
    const [first] = await relay.waitForRecords(1);
    expect(first).toMatchObject({
      closeReason: "gssapi_protection_unavailable",
      status: "rejected",
    });
  });
});

/** The python3-gssapi client against `port` as alice. */
function client(port: number, mode: "rfc1961" | "nec", ...rest: string[]): Promise<Ran> {
  return runWith(SYSTEM_PYTHON, [CLIENT, String(port), "rcmd@localhost", mode, ...rest], {
    KRB5CCNAME: aliceCache,
  });
}

const lines = (ran: Ran) => ran.stdout.trim().split("\n");
/** The client's marker, as it would appear on the wire unencrypted. */
const MARKER = Buffer.from("EDGESOCKS-PLAINTEXT-MARKER;");
const BULK_BYTES = 48_000;

describe("RFC 1961 per-message protection against a real MIT KDC", () => {
  it("relays a CONNECT at level 1 and level 2 in encapsulated frames, with the payload counted", async () => {
    await using relay = await gssRelay('protection_level = "selective"', undefined, false);
    await using echo = await startEchoTarget();
    for (const level of ["1", "2", "3"]) {
      const ran = await client(
        relay.port,
        "rfc1961",
        String(echo.port),
        "--level",
        level,
        "--bytes",
        String(BULK_BYTES),
      );
      expect(ran.stderr).toBe("");
      expect(lines(ran)).toEqual([`level ${level}`, "reply 0", `echo ${BULK_BYTES} ok`]);
    }
    const records = await relay.waitForRecords(3);
    for (const record of records) {
      expect(record).toMatchObject({
        user: `alice@${REALM}`,
        status: "closed",
        command: "connect",
        destinationPort: echo.port,
        bytesUp: BULK_BYTES,
        bytesDown: BULK_BYTES,
      });
    }
  });

  it("carries a megabyte both ways at level 2: relayed reads larger than one frame are split to fit LEN", async () => {
    await using relay = await gssRelay('protection_level = "confidentiality"', undefined, false);
    await using echo = await startEchoTarget();
    const big = 1024 * 1024;
    const ran = await client(
      relay.port,
      "rfc1961",
      String(echo.port),
      "--bytes",
      String(big),
      "--frame",
      "60000",
    );
    expect(ran.stderr).toBe("");
    expect(lines(ran)).toEqual(["level 2", "reply 0", `echo ${big} ok`]);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ bytesUp: big, bytesDown: big });
  });

  it("runs BIND under protection: both replies wrapped, the peer's data relayed in frames", async () => {
    await using relay = await gssRelay('protection_level = "confidentiality"', undefined, false);
    const ran = await client(relay.port, "rfc1961", "0", "--bind");
    expect(ran.stderr).toBe("");
    expect(lines(ran)).toEqual(["level 2", "reply 0", "reply 0", "peer ok"]);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({ command: "bind", bytesUp: 4, bytesDown: 4 });
  });

  it("grants the lower of the client's level and protection_level, wrapped or in NEC form", async () => {
    await using relay = await gssRelay('protection_level = "integrity"');
    await using echo = await startEchoTarget();
    // Asked for confidentiality, granted integrity: the client's frames follow the answer.
    const rfc = await client(relay.port, "rfc1961", String(echo.port), "--level", "2");
    expect(lines(rfc)).toEqual(["level 1", "reply 0", "echo ping"]);
    // The NEC clear mode carries the level in clear, and a level above 0 is honoured too.
    const nec = await client(relay.port, "nec", String(echo.port), "--level", "2");
    expect(lines(nec)).toEqual(["level 1", "reply 0", "echo ping"]);
    const clear = await client(relay.port, "nec", String(echo.port), "--level", "0");
    expect(lines(clear)).toEqual(["level 0", "reply 0", "echo ping"]);
  });

  it("closes a session whose frame was tampered with, while another session keeps working", async () => {
    await using relay = await gssRelay('protection_level = "confidentiality"', undefined, false);
    await using echo = await startEchoTarget();
    const [tampered, intact] = await Promise.all([
      client(relay.port, "rfc1961", String(echo.port), "--tamper", "--bytes", "20000"),
      client(relay.port, "rfc1961", String(echo.port), "--bytes", String(BULK_BYTES)),
    ]);
    expect(lines(tampered)).toEqual(["level 2", "reply 0", "closed"]);
    expect(lines(intact)).toEqual(["level 2", "reply 0", `echo ${BULK_BYTES} ok`]);
    const records = await relay.waitForRecords(2);
    const broken = records.find((r) => r.closeReason === "gssapi_unwrap_failed");
    expect(broken).toMatchObject({ user: `alice@${REALM}`, bytesUp: 0, command: "connect" });
    const metric = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_gssapi_bad_frames_total",
    );
    expect(metric).toContain('reason="gssapi_unwrap_failed"} 1');
  });

  it("refuses a tampered SOCKS request frame before anything is connected", async () => {
    await using relay = await gssRelay('protection_level = "integrity"', undefined, false);
    await using echo = await startEchoTarget();
    const ran = await client(relay.port, "rfc1961", String(echo.port), "--tamper-request");
    expect(lines(ran)).toEqual(["level 1", "closed"]);
    const [record] = await relay.waitForRecords(1);
    expect(record).toMatchObject({
      closeReason: "gssapi_unwrap_failed",
      status: "rejected",
      command: null,
      destinationPort: null,
    });
  });

  it("puts no plaintext on the wire at level 2 (and shows it at level 1, integrity only)", async () => {
    await using relay = await gssRelay('protection_level = "selective"', undefined, false);
    await using echo = await startEchoTarget();
    for (const level of ["1", "2"]) {
      await using wire = await startRecordingForwarder(relay.port);
      const ran = await client(
        wire.port,
        "rfc1961",
        String(echo.port),
        "--level",
        level,
        "--bytes",
        "8000",
      );
      expect(lines(ran)).toEqual([`level ${level}`, "reply 0", "echo 8000 ok"]);
      const seen = wire.seen();
      // Both ways crossed the forwarder: the login, the request, 8000 bytes up and down.
      expect(seen.length).toBeGreaterThan(16_000);
      expect(seen.includes(MARKER)).toBe(level === "1");
    }
  });

  it("refuses UDP ASSOCIATE under protection with 0x07, and a clear level without the NEC mode", async () => {
    await using relay = await gssRelay('protection_level = "confidentiality"', undefined, false);
    const udp = await client(relay.port, "rfc1961", "9", "--udp");
    expect(lines(udp)).toEqual(["level 2", "reply 7"]);
    const nec = await client(relay.port, "nec");
    expect(lines(nec)).toEqual(["abort"]);
    const records = await relay.waitForRecords(2);
    expect(records.map((r) => r.closeReason).sort()).toEqual([
      "gssapi_nec_mode_disabled",
      "gssapi_udp_unsupported",
    ]);
    expect(records.find((r) => r.command === "udp")).toMatchObject({
      user: `alice@${REALM}`,
      status: "rejected",
    });
  });
});

describe("[auth.gssapi] configuration", () => {
  const base = (gssapi: string) =>
    `[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nkeytab_path = "/nonexistent"\nnec_clear_mode = true\n${gssapi}`;

  it("refuses unknown protection levels and ambiguous service names; loads RustSocks' levels with or without the clear mode", () => {
    expect(() => parseConfigText(base('protection_level = "privacy"'))).toThrow(
      /auth\.gssapi\.protection_level: expected "integrity", "confidentiality" or "selective"/,
    );
    expect(() => parseConfigText(base('protection_level = "none"'))).toThrow(
      /leave the key out and set nec_clear_mode = true/,
    );
    expect(() => parseConfigText(base('service_name = "socks@EXAMPLE.COM"'))).toThrow(
      /auth\.gssapi\.service_name: "socks@EXAMPLE.COM" is ambiguous/,
    );
    for (const level of ["integrity", "confidentiality", "selective"]) {
      const rustsocks = parseConfigText(
        `[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nservice_name = "socks"\nprotection_level = "${level}"\n`,
      );
      expect(rustsocks.config.auth.gssapi).toMatchObject({
        protection_level: level,
        nec_clear_mode: false,
      });
      expect(
        parseConfigText(base(`protection_level = "${level}"`)).config.auth.gssapi.nec_clear_mode,
      ).toBe(true);
    }
    // RustSocks' default: no key, no clear mode.
    expect(
      parseConfigText('[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nkeytab_path = "/k"\n').config
        .auth.gssapi.protection_level,
    ).toBeUndefined();
  });

  it("refuses to start with a missing keytab, a keytab without the service, or a library that does not load", async () => {
    await expect(
      gssRelayWith(`keytab_path = "${join(kdc.dir, "missing.keytab")}"`),
    ).rejects.toThrow(/auth\.gssapi\.keytab_path: cannot read .*missing\.keytab \(ENOENT\)/);
    await expect(
      gssRelayWith(`keytab_path = "${keytab}"\nservice_name = "socks/localhost"`),
    ).rejects.toThrow(/auth\.gssapi: no acceptor credentials for service_name "socks\/localhost"/);
    await expect(
      gssRelayWith(`keytab_path = "${keytab}"\nlibrary_path = "libnot-gssapi.so.9"`),
    ).rejects.toThrow(/auth\.gssapi\.library_path: cannot load libnot-gssapi\.so\.9/);
  });
});

function gssRelayWith(gssapi: string): Promise<TestRelay> {
  return startTestRelay(
    `[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nnec_clear_mode = true\n${gssapi}\n`,
  );
}

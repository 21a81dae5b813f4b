import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { KdcFixture } from "../src/test-support/kdc-fixture";
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

function gssRelay(gssapi: string, acl?: string): Promise<TestRelay> {
  return startTestRelay(
    `
[auth]
socks_method = "gssapi"
[auth.gssapi]
keytab_path = "${keytab}"
nec_clear_mode = true
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
    expect(ok.stdout.trim().split("\n")).toEqual(["level 0", "reply 0 echo ping"]);
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

  it("answers a client asking for RFC 1961 per-message protection with an abort, not an unprotected session", async () => {
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
      closeReason: "gssapi_protection_unsupported",
      status: "rejected",
    });
  });
});

describe("[auth.gssapi] configuration", () => {
  const base = (gssapi: string) =>
    `[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nkeytab_path = "/nonexistent"\nnec_clear_mode = true\n${gssapi}`;

  it("refuses unknown protection levels, ambiguous service names, and a config without the clear mode", () => {
    expect(() => parseConfigText(base('protection_level = "privacy"'))).toThrow(
      /auth\.gssapi\.protection_level: expected "integrity", "confidentiality" or "selective"/,
    );
    expect(() => parseConfigText(base('service_name = "socks@EXAMPLE.COM"'))).toThrow(
      /auth\.gssapi\.service_name: "socks@EXAMPLE.COM" is ambiguous/,
    );
    expect(() =>
      parseConfigText(
        '[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nprotection_level = "integrity"\n',
      ),
    ).toThrow(
      /auth\.gssapi\.protection_level: RFC 1961 per-message protection \("integrity"\) is not implemented yet/,
    );
    expect(() =>
      parseConfigText('[auth]\nsocks_method = "gssapi"\n[auth.gssapi]\nkeytab_path = "/k"\n'),
    ).toThrow(/auth\.gssapi\.nec_clear_mode: must be true; RFC 1961 per-message protection/);
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

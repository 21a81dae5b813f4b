import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config/load";
import { PamFixture } from "../src/test-support/pam-fixture";
import { createPki } from "../src/test-support/pki";
import { connectRequestV4, RawClient } from "../src/test-support/raw-client";
import { BIN, startRelayProcess } from "../src/test-support/relay-process";
import { curlVia, run, SYSTEM_PYTHON } from "../src/test-support/run";
import { startHttpTarget } from "../src/test-support/targets";
import { startTestRelay, type TestRelay } from "../src/test-support/test-relay";

// Real PAM: service files in /etc/pam.d, pam_pwdfile, pam_unix with system
// users, pam_access, pam_exec. Needs root, pamtester and libpam-pwdfile.
let pam: PamFixture;
let pwdService: string;
let unixService: string;
let slowService: string;
let accessService: string;
let devGroup: string;
let dev: string;
let outsider: string;
let expired: string;
let locked: string;
let pwdfile: string;
let rhostUser: string;
let relayUser: string;

beforeAll(() => {
  pam = new PamFixture();
  pwdfile = pam.pwdfile("users.pwd", {
    alice: "alice pw",
    slow: "slow pw",
    "s3cret-user": "s3cret-marker-0123",
  });
  pwdService = pam.service("pwd", [
    `auth required pam_pwdfile.so pwdfile=${pwdfile}`,
    "account required pam_permit.so",
  ]);
  // Only the user "slow" waits: other logins on the same relay must not.
  const sleeper = pam.script("slow.sh", 'case "$PAM_USER" in slow|s3cret-user) sleep 3;; esac');
  slowService = pam.service("slow", [
    `auth required pam_exec.so quiet ${sleeper}`,
    `auth required pam_pwdfile.so pwdfile=${pwdfile}`,
    "account required pam_permit.so",
  ]);
  unixService = pam.service("unix", ["auth required pam_unix.so", "account required pam_unix.so"]);
  const access = `${pam.dir}/access.conf`;
  writeFileSync(access, "+ : ALL : 127.0.0.2\n- : ALL : ALL\n");
  accessService = pam.service("client", [
    "auth required pam_permit.so",
    `account required pam_access.so nodefgroup noaudit accessfile=${access}`,
  ]);
  devGroup = pam.group("dev");
  dev = pam.user("dev", "dev pw", [devGroup]);
  outsider = pam.user("out", "out pw");
  expired = pam.user("exp", "exp pw");
  run("chage", ["-E", "0", expired]);
  locked = pam.user("lck", "lck pw");
  // pam_access looks the PAM user up: default_user must be a user the system knows.
  rhostUser = pam.user("rh", "unused");
  // The unprivileged user a relay drops to.
  relayUser = pam.user("svc", "unused");
  run("usermod", ["-L", locked]);
});

afterAll(() => pam?.dispose());

/** A relay with socks_method = "pam.username" on `service` (verify_service on). */
function pamRelay(
  service: string,
  more: { auth?: string; pam?: string; acl?: string } = {},
): Promise<TestRelay> {
  return startTestRelay(
    `
[auth]
socks_method = "pam.username"
${more.auth ?? ""}
[auth.pam]
username_service = "${service}"
verify_service = true
${more.pam ?? ""}
${more.acl ? '[acl]\nenabled = true\nconfig_file = "acl.toml"\n' : ""}`,
    more.acl,
  );
}

/** An RFC 1929 login on a raw socket; resolves with the status byte (0: allowed). */
async function login(port: number, user: string, password: string): Promise<number | "closed"> {
  using client = await RawClient.open(port);
  client.write([5, 1, 2]);
  await client.read(2);
  const u = Buffer.from(user);
  const p = Buffer.from(password);
  client.write([1, u.length, ...u, p.length, ...p]);
  const reply = await client.read(2, 15_000);
  return reply.length === 2 ? reply[1]! : "closed";
}

const proxyUser = (credentials: string) => ["--proxy-user", credentials];

describe("pam.username (RFC 1929 credentials through PAM)", () => {
  it("lets curl and python3-socks in with a pam_pwdfile password, and refuses wrong passwords and unknown users", async () => {
    await using target = await startHttpTarget("via pam");
    await using relay = await pamRelay(pwdService);
    const url = `http://127.0.0.1:${target.port}/`;
    const ok = await curlVia("--socks5", relay.proxy, url, proxyUser("alice:alice pw"));
    expect(ok.stdout).toBe("via pam");
    const script = `
import socks, sys
s = socks.socksocket()
s.set_proxy(socks.SOCKS5, "127.0.0.1", ${relay.port}, username="alice", password="alice pw")
s.settimeout(10)
s.connect(("127.0.0.1", ${target.port}))
s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
sys.stdout.write(data.decode().split("\\r\\n\\r\\n", 1)[1])
`;
    const python = await run(SYSTEM_PYTHON, ["-c", script]);
    expect(python.stdout).toBe("via pam");
    for (const bad of ["alice:wrong", "nobody-here:x"]) {
      expect((await curlVia("--socks5", relay.proxy, url, proxyUser(bad))).code).not.toBe(0);
    }
    const records = await relay.waitForRecords(4);
    expect(records.filter((r) => r.closeReason === "auth_failed")).toHaveLength(2);
    expect(records.filter((r) => r.user === "alice" && r.status === "closed")).toHaveLength(2);
    const metric = await relay.relay.metrics.registry.getSingleMetricAsString(
      "edgesocks_relay_auth_total",
    );
    // curl asked PAM; python3's login with the same credentials came from the cache.
    expect(metric).toContain('method="pam.username",result="success"} 2');
    expect(metric).toContain('method="pam.username",result="failure"} 2');
  });

  it("keeps a user the policy disables out, whatever PAM says", async () => {
    await using relay = await pamRelay(pwdService, {
      auth: '[[auth.users]]\nusername = "alice"\npassword = "unused"\nenabled = false\n',
    });
    expect(await login(relay.port, "alice", "alice pw")).not.toBe(0);
  });

  it("refuses a reload that would switch PAM off: PAM settings change only on restart", async () => {
    await using relay = await pamRelay(pwdService);
    const userpass = parseConfigText(
      '[auth]\nsocks_method = "userpass"\n[[auth.users]]\nusername = "bob"\npassword = "bob pw"\n',
    ).config;
    expect(relay.relay.reload(userpass)).toBe(false);
    expect(await login(relay.port, "bob", "bob pw")).not.toBe(0);
    expect(await login(relay.port, "alice", "alice pw")).toBe(0);
  });

  it("remembers a success for its TTL (PAM is not asked again), but never a wrong password", async () => {
    await using relay = await pamRelay(pwdService);
    expect(await login(relay.port, "alice", "alice pw")).toBe(0);
    // With the password file gone, only the cache can still let alice in.
    const saved = readFileSync(pwdfile);
    rmSync(pwdfile);
    try {
      expect(await login(relay.port, "alice", "alice pw")).toBe(0);
      expect(await login(relay.port, "alice", "alice pw!")).not.toBe(0);
    } finally {
      writeFileSync(pwdfile, saved, { mode: 0o644 });
    }
  });

  it("runs account management: an expired or locked system account is refused with the right password", async () => {
    await using relay = await pamRelay(unixService);
    expect(await login(relay.port, outsider, "out pw")).toBe(0);
    expect(await login(relay.port, expired, "exp pw")).not.toBe(0);
    expect(await login(relay.port, locked, "lck pw")).not.toBe(0);
  });

  it("refuses user names that could pass for options or carry control characters, without asking PAM", async () => {
    // A stack that admits anyone: only the relay's own check can refuse these names.
    const permit = pam.service("permit", [
      "auth required pam_permit.so",
      "account required pam_permit.so",
    ]);
    await using open = await pamRelay(permit);
    expect(await login(open.port, "anyone", "x")).toBe(0);
    for (const name of ["-v", "--help", "ali\nce", "ali\u0001ce"]) {
      expect(await login(open.port, name, "x")).not.toBe(0);
    }
    await using relay = await pamRelay(pwdService);
    // "right\nanything" must not pass as "right" (PAM reads one line).
    expect(await login(relay.port, "alice", "alice pw\nextra")).not.toBe(0);
  });

  it("a slow PAM stack delays only its own logins: another user gets in while 5 slow ones are pending, and no password is in any argv", async () => {
    await using relay = await pamRelay(slowService);
    const answered: string[] = [];
    const slow = Array.from({ length: 5 }, (_, i) =>
      login(
        relay.port,
        i === 0 ? "s3cret-user" : "slow",
        i === 0 ? "s3cret-marker-0123" : "slow pw",
      ).then((status) => {
        answered.push(`slow:${status}`);
        return status;
      }),
    );
    await waitFor(() => pamtesterCount() >= 5);
    // While they are pending, no process shows the password on its command line.
    expect(commandLines().some((line) => line.includes("s3cret-marker"))).toBe(false);
    expect(await login(relay.port, "alice", "alice pw")).toBe(0);
    answered.push("alice");
    expect(await Promise.all(slow)).toEqual([0, 0, 0, 0, 0]);
    expect(answered[0]).toBe("alice");
  });

  it("bounds the PAM pool: past max_processes and max_queued a login is refused at once; a check past its deadline is killed", async () => {
    await using relay = await pamRelay(slowService, {
      pam: "max_processes = 1\nmax_queued = 1\ntimeout_ms = 1500",
    });
    const order: string[] = [];
    const attempt = (name: string) =>
      login(relay.port, "slow", "slow pw").then((status) => {
        order.push(name);
        return status;
      });
    const first = attempt("first");
    await waitFor(() => pamtesterCount() >= 1);
    // One of these two waits in the queue, the other finds no place and is refused.
    const [second, third] = [attempt("second"), attempt("third")];
    // Both slow checks outlive their deadline (sleep 3 > 1.5 s) and are killed.
    expect(await Promise.all([first, second, third])).not.toContain(0);
    expect(order[0]).not.toBe("first");
    expect(await metricText(relay)).toContain('method="pam.username",result="error"} 3');
    await waitFor(() => pamtesterCount() === 0);
  });

  it("with verify_service = true, refuses to start when the service has no /etc/pam.d file", async () => {
    await expect(pamRelay(`edgesocks-test-${pam.id}-missing`)).rejects.toMatchObject({
      code: "RELAY_E_CONFIG",
      message: expect.stringContaining(`/etc/pam.d/edgesocks-test-${pam.id}-missing`),
    });
  });
});

describe("pam.address (the client address alone)", () => {
  it("admits 127.0.0.2 and refuses 127.0.0.3 by pam_access, before any SOCKS byte is answered", async () => {
    await using target = await startHttpTarget("by address");
    await using relay = await startTestRelay(`
[auth]
client_method = "pam.address"
socks_method = "none"
[auth.pam]
address_service = "${accessService}"
default_user = "${rhostUser}"
default_ruser = "${rhostUser}"
verify_service = true
`);
    const url = `http://127.0.0.1:${target.port}/`;
    const allowed = await curlVia("--socks5", relay.proxy, url, ["--interface", "127.0.0.2"]);
    expect(allowed.stdout).toBe("by address");
    const refused = await curlVia("--socks5", relay.proxy, url, ["--interface", "127.0.0.3"]);
    expect(refused.code).not.toBe(0);
    using raw = await RawClient.open(relay.port, "127.0.0.1", "127.0.0.3");
    raw.write([5, 1, 0]);
    expect((await raw.readToEnd()).length).toBe(0);
    const records = await relay.waitForRecords(3);
    expect(records.map((r) => r.closeReason).filter((r) => r === "auth_failed")).toHaveLength(2);
  });
});

describe('auth.group_source = "nss"', () => {
  it("a system group decides through the ACL, matched case-insensitively; a user unknown to NSS is refused", async () => {
    await using target = await startHttpTarget("group ok");
    const acl = `
[global]
default_policy = "block"
[[groups]]
name = "${devGroup.toUpperCase()}"
[[groups.rules]]
action = "allow"
destinations = ["127.0.0.1"]
ports = ["${target.port}"]
protocols = ["tcp"]
priority = 10
`;
    const unixAndPwd = pam.service("both", [
      "auth sufficient pam_unix.so",
      `auth required pam_pwdfile.so pwdfile=${pwdfile}`,
      "account required pam_permit.so",
    ]);
    await using relay = await pamRelay(unixAndPwd, { auth: 'group_source = "nss"', acl });
    const url = `http://127.0.0.1:${target.port}/`;
    const member = await curlVia("--socks5", relay.proxy, url, proxyUser(`${dev}:dev pw`));
    expect(member.stdout).toBe("group ok");
    const other = await curlVia("--socks5", relay.proxy, url, proxyUser(`${outsider}:out pw`));
    expect(other.code).not.toBe(0);
    // alice is only in the password file: her groups cannot be known, so she is not let in.
    const alice = await curlVia("--socks5", relay.proxy, url, proxyUser("alice:alice pw"));
    expect(alice.code).not.toBe(0);
    const records = await relay.waitForRecords(3);
    const byUser = new Map(records.map((r) => [r.user, r]));
    expect(byUser.get(dev)).toMatchObject({ status: "closed", decision: "allow" });
    expect(byUser.get(outsider)).toMatchObject({ closeReason: "acl_blocked" });
    expect(byUser.get("alice")).toMatchObject({ closeReason: "auth_error:groups_unavailable" });
  });
});

describe("a RustSocks rustsocks.toml with both PAM tiers, in the real relay binary", () => {
  const rustsocksToml = (usernameService: string, addressService: string) => `
[server]
bind_address = "127.0.0.1"
bind_port = 1080
max_connections = 10000

[auth]
client_method = "pam.address"      # IP filtering before SOCKS
socks_method = "pam.username"      # Username/password after SOCKS

[auth.pam]
username_service = "${usernameService}"
address_service = "${addressService}"
default_user = "${rhostUser}"
default_ruser = "${rhostUser}"
verbose = true
verify_service = true

[logging]
level = "info"
format = "pretty"

[sessions]
enabled = true
storage = "sqlite"
`;

  function writeConfig(text: string): { configPath: string; stateDir: string; dir: string } {
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-pam-relay-"));
    const configPath = join(dir, "rustsocks.toml");
    writeFileSync(configPath, text);
    return { configPath, stateDir: join(dir, "state"), dir };
  }

  it("loads unchanged and serves: the address tier, then the password tier, through curl", async () => {
    await using target = await startHttpTarget("rustsocks config");
    const files = writeConfig(rustsocksToml(pwdService, accessService));
    await using relay = await startRelayProcess(files);
    const proxy = `127.0.0.1:${relay.port}`;
    const url = `http://127.0.0.1:${target.port}/`;
    const from = (address: string, credentials: string) =>
      curlVia("--socks5", proxy, url, ["--interface", address, ...proxyUser(credentials)]);
    expect((await from("127.0.0.2", "alice:alice pw")).stdout).toBe("rustsocks config");
    expect((await from("127.0.0.2", "alice:wrong")).code).not.toBe(0);
    expect((await from("127.0.0.3", "alice:alice pw")).code).not.toBe(0);
    // verbose = true: every check is logged.
    expect(relay.output()).toContain("PAM refused");
    rmSync(files.dir, { recursive: true, force: true });
  });

  it("refuses to start when a service file is missing (verify_service = true): exit 2, one clear line", async () => {
    const files = writeConfig(rustsocksToml(pwdService, `edgesocks-test-${pam.id}-nothing`));
    const result = await run(process.execPath, [BIN, "--config", files.configPath, "--allow-root"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `PAM service "edgesocks-test-${pam.id}-nothing" has no file /etc/pam.d/edgesocks-test-${pam.id}-nothing`,
    );
    rmSync(files.dir, { recursive: true, force: true });
  });

  it("after dropping to an unprivileged user: pam_pwdfile still works (the file is readable), pam_unix cannot check other users", async () => {
    await using target = await startHttpTarget("unprivileged");
    const files = writeConfig(
      rustsocksToml(pwdService, accessService).replace(
        'client_method = "pam.address"',
        'client_method = "none"',
      ),
    );
    await using relay = await startRelayProcess({ ...files, args: ["--user", relayUser] });
    const proxy = `127.0.0.1:${relay.port}`;
    const url = `http://127.0.0.1:${target.port}/`;
    expect((await curlVia("--socks5", proxy, url, proxyUser("alice:alice pw"))).stdout).toBe(
      "unprivileged",
    );
    const unixFiles = writeConfig(
      rustsocksToml(unixService, accessService).replace(
        'client_method = "pam.address"',
        'client_method = "none"',
      ),
    );
    await using unixRelay = await startRelayProcess({ ...unixFiles, args: ["--user", relayUser] });
    // unix_chkpwd, pam_unix's setuid helper, only checks the calling user's own password.
    const other = await curlVia(
      "--socks5",
      `127.0.0.1:${unixRelay.port}`,
      url,
      proxyUser(`${outsider}:out pw`),
    );
    expect(other.code).not.toBe(0);
    rmSync(files.dir, { recursive: true, force: true });
    rmSync(unixFiles.dir, { recursive: true, force: true });
  });
});

describe('auth.group_source = "nss" for a client mutual TLS identified', () => {
  it("looks the certificate's user up too: a group rule decides, a user NSS does not know is refused", async () => {
    await using target = await startHttpTarget("mtls group");
    const pki = createPki(join(pam.dir, "pki"));
    const server = pki.issue("server");
    await using relay = await startTestRelay(
      `
[server.tls]
enabled = true
certificate_path = "${server.cert}"
private_key_path = "${server.key}"
require_client_auth = true
client_ca_path = "${pki.caCert}"
tls_client_cert_as_user = true
[auth]
group_source = "nss"
[acl]
enabled = true
config_file = "acl.toml"
`,
      `
[global]
default_policy = "block"
[[groups]]
name = "${devGroup}"
[[groups.rules]]
action = "allow"
destinations = ["127.0.0.1"]
ports = ["*"]
protocols = ["tcp"]
priority = 10
`,
    );
    const through = async (cn: string) => {
      const cert = pki.issue(`client-${cn}`, { cn });
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect(
          {
            host: "127.0.0.1",
            port: relay.port,
            servername: "localhost",
            ca: readFileSync(pki.caCert),
            cert: readFileSync(cert.cert),
            key: readFileSync(cert.key),
          },
          () => resolve(s),
        );
        s.once("error", reject);
      });
      const received: Buffer[] = [];
      socket.on("data", (c: Buffer) => received.push(c));
      socket.write(Buffer.from([5, 1, 0, ...connectRequestV4("127.0.0.1", target.port)]));
      socket.write("GET / HTTP/1.0\r\n\r\n");
      await new Promise((resolve) => socket.on("close", resolve).on("error", resolve));
      return Buffer.concat(received);
    };
    // 05 00 (method) then 05 00 (request granted) for the group member.
    expect([...(await through(dev)).subarray(0, 4)]).toEqual([5, 0, 5, 0]);
    expect([...(await through(outsider)).subarray(0, 4)]).toEqual([5, 0, 5, 2]);
    expect([...(await through("not-a-system-user")).subarray(0, 4)]).toEqual([5, 0, 5, 2]);
    const records = await relay.waitForRecords(3);
    const byUser = new Map(records.map((r) => [r.user, r.closeReason]));
    expect(byUser.get(outsider)).toBe("acl_blocked");
    expect(byUser.get("not-a-system-user")).toBe("auth_error:groups_unavailable");
  });
});

async function metricText(relay: TestRelay): Promise<string> {
  return relay.relay.metrics.registry.getSingleMetricAsString("edgesocks_relay_auth_total");
}

function commandLines(): string[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        return "";
      }
    });
}

/** pamtester processes of this fixture running now. */
function pamtesterCount(): number {
  return commandLines().filter((l) => l.includes("pamtester") && l.includes(pam.id)).length;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real MIT Kerberos realm for tests, all under one temp dir and nothing in
 * /etc: its own krb5.conf and kdc.conf (KRB5_CONFIG, KRB5_KDC_PROFILE), a
 * database made by kdb5_util, principals and keytabs by kadmin.local, and
 * krb5kdc on a loopback port. Needs krb5-kdc, krb5-admin-server, krb5-user.
 */
export class KdcFixture {
  static readonly REALM = "EDGESOCKS.TEST";
  readonly dir = mkdtempSync(join(tmpdir(), "edgesocks-kdc-"));
  readonly env: Record<string, string>;
  #kdc: ChildProcess | null = null;

  private constructor(readonly port: number) {
    const realm = KdcFixture.REALM;
    writeFileSync(
      join(this.dir, "krb5.conf"),
      `[libdefaults]
  default_realm = ${realm}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  ${realm} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  localhost = ${realm}
`,
    );
    writeFileSync(
      join(this.dir, "kdc.conf"),
      `[kdcdefaults]
  kdc_ports = ${port}
  kdc_tcp_ports = ${port}
[realms]
  ${realm} = {
    database_name = ${this.dir}/principal
    key_stash_file = ${this.dir}/stash
    acl_file = ${this.dir}/kadm5.acl
    kdc_listen = 127.0.0.1:${port}
    kdc_tcp_listen = 127.0.0.1:${port}
  }
[logging]
  kdc = FILE:${this.dir}/kdc.log
`,
    );
    writeFileSync(join(this.dir, "kadm5.acl"), "");
    this.env = {
      KRB5_CONFIG: join(this.dir, "krb5.conf"),
      KRB5_KDC_PROFILE: join(this.dir, "kdc.conf"),
      KRB5RCACHEDIR: this.dir,
    };
  }

  /** Creates the realm and starts its KDC. */
  static async start(): Promise<KdcFixture> {
    const kdc = new KdcFixture(await freeLoopbackPort());
    kdc.#tool("kdb5_util", [
      "create",
      "-s",
      "-P",
      "master-key-of-the-test-realm",
      "-r",
      KdcFixture.REALM,
    ]);
    const child = spawn("krb5kdc", ["-n", "-r", KdcFixture.REALM], {
      env: { ...process.env, ...kdc.env },
      stdio: "ignore",
    });
    kdc.#kdc = child;
    await waitForPort(kdc.port);
    return kdc;
  }

  #tool(file: string, args: string[], input?: string): string {
    return execFileSync(file, args, {
      env: { ...process.env, ...this.env },
      input,
      stdio: ["pipe", "pipe", "pipe"],
    }).toString();
  }

  /** A user principal with a password. */
  user(name: string, password: string): void {
    this.#tool("kadmin.local", ["-q", `addprinc -pw ${password} ${name}`]);
  }

  /** A service principal with a random key; with `keytab`, its keys are exported there. */
  service(principal: string, keytab?: string): void {
    this.#tool("kadmin.local", ["-q", `addprinc -randkey ${principal}`]);
    if (keytab) this.#tool("kadmin.local", ["-q", `ktadd -k ${keytab} ${principal}`]);
  }

  /** kinit with the password from stdin into a fresh credential cache; returns KRB5CCNAME. */
  kinit(name: string, password: string): string {
    const cache = `FILE:${join(this.dir, `cc-${name.replace(/\W/g, "_")}`)}`;
    execFileSync("kinit", [name], {
      env: { ...process.env, ...this.env, KRB5CCNAME: cache },
      input: `${password}\n`,
      stdio: ["pipe", "pipe", "pipe"],
    });
    return cache;
  }

  async dispose(): Promise<void> {
    const kdc = this.#kdc;
    if (kdc && kdc.exitCode === null) {
      const exited = new Promise((resolve) => kdc.once("exit", resolve));
      kdc.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A free port below the ephemeral range (the project listens below 32768). */
async function freeLoopbackPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("no free loopback port for the KDC");
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import("node:net");
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`krb5kdc did not listen on 127.0.0.1:${port}`);
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LdapUser {
  uid: string;
  uidNumber: number;
  /** The primary group (a posixGroup's gidNumber): `id -G` names it first. */
  gidNumber: number;
}

export interface LdapGroup {
  cn: string;
  gidNumber: number;
  /** memberUid values: secondary members. */
  members: string[];
}

const SUFFIX = "dc=edgesocks,dc=test";
const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PW = "fixture-admin";
/** Compiled into nslcd and libnss_ldap (nss-pam-ldapd has no setting for it). */
const NSLCD_RUN_DIR = "/run/nslcd";
/** nslcd has no flag for its configuration file either. */
const NSLCD_CONF = "/etc/nslcd.conf";

/**
 * A real LDAP directory for group lookups, touching nothing the host uses:
 * Debian's slapd with its own slapd.conf and database under a temp dir on
 * ldap://127.0.0.1:PORT, and nslcd pointed at it. nslcd's socket
 * (/run/nslcd/socket) and configuration path are compiled in, so nslcd runs in
 * a private mount namespace where this fixture's directories are bind-mounted
 * over them; a process that should see the directory runs under `prefix` (the
 * same bind mount, so the same socket). That process's NSS reads LDAP only
 * through nss_wrapper (`lookupEnv`): the host's /etc/nsswitch.conf stays as
 * it is, and the host never learns these users.
 */
export class LdapDirectory implements AsyncDisposable {
  readonly url: string;
  readonly dir: string;
  readonly #slapd: ChildProcess;
  readonly #nslcd: ChildProcess;
  readonly #output: { text: string };

  private constructor(options: {
    url: string;
    dir: string;
    slapd: ChildProcess;
    nslcd: ChildProcess;
    output: { text: string };
  }) {
    this.url = options.url;
    this.dir = options.dir;
    this.#slapd = options.slapd;
    this.#nslcd = options.nslcd;
    this.#output = options.output;
  }

  static async start(options: { users: LdapUser[]; groups: LdapGroup[] }): Promise<LdapDirectory> {
    if (!existsSync(NSLCD_CONF)) throw new Error(`${NSLCD_CONF} is missing: install nslcd`);
    const dir = mkdtempSync(join(tmpdir(), "edgesocks-ldap-"));
    const output = { text: "" };
    const processes: ChildProcess[] = [];
    try {
      mkdirSync(join(dir, "db"));
      mkdirSync(join(dir, "run"), { mode: 0o755 });
      // nss_wrapper only switches on with both files; empty, so every answer comes from LDAP.
      writeFileSync(join(dir, "passwd"), "");
      writeFileSync(join(dir, "group"), "");
      writeFileSync(join(dir, "slapd.conf"), slapdConf(dir));
      writeFileSync(join(dir, "data.ldif"), baseLdif(options.users, options.groups));
      // Loaded offline before slapd starts: no bind round trips.
      execFileSync("slapadd", ["-f", join(dir, "slapd.conf"), "-l", join(dir, "data.ldif")], {
        stdio: "pipe",
      });
      const { slapd, port } = await startSlapd(dir, output);
      processes.push(slapd);
      const url = `ldap://127.0.0.1:${port}/`;
      writeFileSync(join(dir, "nslcd.conf"), `uri ${url}\nbase ${SUFFIX}\n`, { mode: 0o600 });
      // The mount point has to exist on the host; it is the directory the nslcd package
      // owns, and stays empty there (nslcd's socket lands in this fixture's directory).
      mkdirSync(NSLCD_RUN_DIR, { recursive: true, mode: 0o755 });
      const nslcd = spawn(
        "unshare",
        [
          ...["--mount", "--propagation", "private", "--", "sh", "-c"],
          `mount --bind "$0" ${NSLCD_RUN_DIR} && mount --bind "$1" ${NSLCD_CONF} && exec nslcd -d`,
          join(dir, "run"),
          join(dir, "nslcd.conf"),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      processes.push(nslcd);
      collect(nslcd, output);
      await waitFor("nslcd's socket", () => existsSync(join(dir, "run", "socket")), nslcd, output);
      return new LdapDirectory({ url, dir, slapd, nslcd, output });
    } catch (error) {
      await Promise.all(processes.map(stop));
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * A command prefix that runs a program where /run/nslcd is this directory's
   * (it must end in `exec`, so the program keeps the prefix's process id).
   */
  get prefix(): string[] {
    return [
      ...["unshare", "--mount", "--propagation", "private", "--", "sh", "-c"],
      `mount --bind "$0" ${NSLCD_RUN_DIR} && exec "$@"`,
      join(this.dir, "run"),
    ];
  }

  /** The environment that makes a process's NSS lookups go to libnss_ldap, and only there. */
  get lookupEnv(): Record<string, string> {
    return {
      LD_PRELOAD: packagedFile("libnss-wrapper", "/libnss_wrapper.so"),
      NSS_WRAPPER_MODULE_SO_PATH: packagedFile("libnss-ldapd", "/libnss_ldap.so.2"),
      NSS_WRAPPER_MODULE_FN_PREFIX: "ldap",
      NSS_WRAPPER_PASSWD: join(this.dir, "passwd"),
      NSS_WRAPPER_GROUP: join(this.dir, "group"),
    };
  }

  /** Adds a group to the running directory (ldapadd as the directory's root DN). */
  addGroup(group: LdapGroup): void {
    execFileSync("ldapadd", ["-x", "-H", this.url, "-D", ROOT_DN, "-w", ROOT_PW], {
      input: groupLdif(group),
      stdio: "pipe",
    });
  }

  /** What slapd and nslcd printed, for a failing test's message. */
  output(): string {
    return this.#output.text;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([stop(this.#nslcd), stop(this.#slapd)]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function slapdConf(dir: string): string {
  return `${["core", "cosine", "nis", "inetorgperson"]
    .map((schema) => `include /etc/ldap/schema/${schema}.schema`)
    .join("\n")}
pidfile ${join(dir, "slapd.pid")}
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PW}
directory ${join(dir, "db")}
`;
}

function baseLdif(users: LdapUser[], groups: LdapGroup[]): string {
  const entries = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: edgesocks\no: EdgeSocks test`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups`,
    ...users.map(
      (user) =>
        `dn: uid=${user.uid},ou=people,${SUFFIX}\nobjectClass: account\nobjectClass: posixAccount\n` +
        `uid: ${user.uid}\ncn: ${user.uid}\nuidNumber: ${user.uidNumber}\ngidNumber: ${user.gidNumber}\n` +
        "homeDirectory: /nonexistent\nloginShell: /usr/sbin/nologin",
    ),
  ];
  return `${[...entries, ...groups.map(groupLdif)].join("\n\n")}\n`;
}

function groupLdif(group: LdapGroup): string {
  return [
    `dn: cn=${group.cn},ou=groups,${SUFFIX}`,
    "objectClass: posixGroup",
    `cn: ${group.cn}`,
    `gidNumber: ${group.gidNumber}`,
    ...group.members.map((m) => `memberUid: ${m}`),
  ].join("\n");
}

/** slapd on a free port below 32768 (slapd cannot report a port it picked itself). */
async function startSlapd(
  dir: string,
  output: { text: string },
): Promise<{ slapd: ChildProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeLowPort();
    // -d 0: in the foreground, so this fixture owns the process.
    const slapd = spawn(
      "slapd",
      ["-d", "0", "-f", join(dir, "slapd.conf"), "-h", `ldap://127.0.0.1:${port}/`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    collect(slapd, output);
    try {
      await waitFor(`slapd on port ${port}`, () => accepts(port), slapd, output);
      return { slapd, port };
    } catch (error) {
      await stop(slapd);
      // Another program may have taken the port between the probe and slapd's bind.
      if (attempt >= 3) throw error;
    }
  }
}

/** A port that was free a moment ago, from 20000-31999 (tests listen below 32768). */
function freeLowPort(): Promise<number> {
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(freeLowPort()));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(port)));
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A file a Debian package installed, by the end of its path (the multiarch dir varies). */
function packagedFile(pkg: string, suffix: string): string {
  const files = execFileSync("dpkg", ["-L", pkg], { encoding: "utf8" }).split("\n");
  const found = files.find((f) => f.endsWith(suffix));
  if (!found) throw new Error(`${pkg} has no file ending in ${suffix}`);
  return found;
}

function collect(child: ChildProcess, output: { text: string }): void {
  const append = (chunk: Buffer) => {
    // The last 64 KiB is enough to explain a failure; nslcd -d logs every request.
    output.text = (output.text + chunk.toString()).slice(-65_536);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  child: ChildProcess,
  output: { text: string },
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      throw new Error(`${what} did not come up:\n${output.text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    // nslcd and slapd finish their threads on SIGTERM; one stuck is killed.
    setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
  });
}

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Real PAM for tests (they run as root): service files in /etc/pam.d named
 * `edgesocks-test-<random>-*`, a pam_pwdfile password file, system users and
 * groups. Everything it made goes in dispose().
 */
export class PamFixture {
  readonly id = randomBytes(4).toString("hex");
  readonly dir = mkdtempSync(join(tmpdir(), "edgesocks-pam-"));
  readonly #services: string[] = [];
  readonly #users: string[] = [];
  readonly #groups: string[] = [];

  constructor() {
    // Readable by an unprivileged relay too: pam_pwdfile needs to read its file.
    chmodSync(this.dir, 0o755);
  }

  /** A crypt(3) SHA-512 hash, as pam_pwdfile and /etc/shadow hold. */
  static hash(password: string): string {
    return execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: password })
      .toString()
      .trim();
  }

  /** A pam_pwdfile password file of `user: password` pairs; returns its path. */
  pwdfile(name: string, users: Record<string, string>, mode = 0o644): string {
    const path = join(this.dir, name);
    const lines = Object.entries(users).map(([u, p]) => `${u}:${PamFixture.hash(p)}`);
    writeFileSync(path, `${lines.join("\n")}\n`, { mode });
    chmodSync(path, mode);
    return path;
  }

  /** An executable script in the fixture's directory (for pam_exec). */
  script(name: string, body: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  }

  /** Writes /etc/pam.d/edgesocks-test-<id>-<suffix>; returns the service name. */
  service(suffix: string, lines: string[]): string {
    const name = `edgesocks-test-${this.id}-${suffix}`;
    writeFileSync(join("/etc/pam.d", name), `${lines.join("\n")}\n`);
    this.#services.push(name);
    return name;
  }

  /** A system user (no home, no shell) with `password`; returns its name. */
  user(suffix: string, password: string, groups: string[] = []): string {
    const name = `est${this.id}${suffix}`;
    execFileSync("useradd", ["--system", "-M", "-s", "/usr/sbin/nologin", name]);
    this.#users.push(name);
    execFileSync("chpasswd", { input: `${name}:${password}\n` });
    for (const group of groups) execFileSync("usermod", ["-aG", group, name]);
    return name;
  }

  group(suffix: string): string {
    const name = `esg${this.id}${suffix}`;
    execFileSync("groupadd", ["--system", name]);
    this.#groups.push(name);
    return name;
  }

  dispose(): void {
    for (const name of this.#services) rmSync(join("/etc/pam.d", name), { force: true });
    for (const name of this.#users) execFileSync("userdel", [name], { stdio: "ignore" });
    for (const name of this.#groups) execFileSync("groupdel", [name], { stdio: "ignore" });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

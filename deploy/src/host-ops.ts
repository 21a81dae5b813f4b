import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HostPlan } from "./inventory";
import { parseKeyValues, type SshHost } from "./ssh";

const HOST_SCRIPT = readFileSync(join(import.meta.dirname, "..", "remote", "host.sh"), "utf8");

export interface HostState {
  manager: "systemd" | "supervise";
  current: string | undefined;
  previous: string | undefined;
  releases: string[];
  runtimes: string[];
  /** The env file as it is on the host, or undefined when there is none. */
  envFile: string | undefined;
  nodeTokenFile: boolean;
  running: boolean;
}

/** The host-side steps (deploy/remote/host.sh), copied to the host once per run. */
export class HostOps {
  readonly ssh: SshHost;
  readonly host: HostPlan;

  constructor(ssh: SshHost, host: HostPlan) {
    this.ssh = ssh;
    this.host = host;
  }

  /** host.sh goes over stdin on every call, so nothing is left on a host a dry run looked at. */
  async #call(args: string[], timeoutMs?: number): Promise<Record<string, string>> {
    const out = await this.ssh.run(["sh", "-s", "--", ...args], {
      stdin: HOST_SCRIPT,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    return parseKeyValues(out);
  }

  async state(): Promise<HostState> {
    const h = this.host;
    const kv = await this.#call(["state", h.install_dir, h.env_file, h.state_dir, h.service]);
    const list = (v: string | undefined) => (v ?? "").split(",").filter(Boolean);
    const opt = (v: string | undefined) => (v && v !== "none" ? v : undefined);
    return {
      manager: kv.manager === "systemd" ? "systemd" : "supervise",
      current: opt(kv.current),
      previous: opt(kv.previous),
      releases: list(kv.releases),
      runtimes: list(kv.runtimes),
      envFile: kv.env ? Buffer.from(kv.env, "base64").toString("utf8") : undefined,
      nodeTokenFile: kv.node_token_file === "yes",
      running: kv.running === "yes",
    };
  }

  async install(kind: "release" | "runtime", name: string, localTarball: string): Promise<void> {
    const remote = join(this.host.install_dir, "incoming", `${name}.tar.gz`);
    await this.ssh.run(["mkdir", "-p", join(this.host.install_dir, "incoming")]);
    await this.ssh.upload(localTarball, remote);
    await this.#call(["install", this.host.install_dir, kind, name, remote]);
  }

  async writeFile(path: string, mode: string, content: string): Promise<void> {
    // Small files only (env file, unit): the content travels as one base64 argument.
    await this.#call(["write-file", path, mode, Buffer.from(content).toString("base64")]);
  }

  /** The service account; under systemd also a state dir outside /var/lib (no StateDirectory= there). */
  async ensureUser(manager: "systemd" | "supervise"): Promise<void> {
    const prepareState = manager === "systemd" && !this.host.state_dir.startsWith("/var/lib/");
    await this.#call([
      "ensure-user",
      this.host.user,
      this.host.group,
      ...(prepareState ? [this.host.state_dir] : []),
    ]);
  }

  async activate(version: string): Promise<void> {
    await this.#call(["activate", this.host.install_dir, version]);
  }

  async rollback(): Promise<string> {
    return (await this.#call(["rollback", this.host.install_dir])).current ?? "";
  }

  async restart(unitFile?: string): Promise<void> {
    const h = this.host;
    await this.#call([
      "restart",
      h.install_dir,
      h.env_file,
      h.service,
      ...(unitFile ? [unitFile] : []),
    ]);
  }

  async stop(): Promise<void> {
    const h = this.host;
    await this.#call(["stop", h.install_dir, h.env_file, h.service]);
  }

  /** One /ready probe from the host itself (the ops port is usually bound to loopback). */
  async ready(): Promise<boolean> {
    const result = await this.ssh.tryRun(
      ["sh", "-s", "--", "ready", this.host.install_dir, this.host.ops_bind],
      { stdin: HOST_SCRIPT, timeoutMs: 15_000 },
    );
    return result.code === 0 && parseKeyValues(result.stdout).ready === "yes";
  }

  async logs(lines: number): Promise<string> {
    const result = await this.ssh.tryRun(
      ["sh", "-s", "--", "logs", this.host.install_dir, this.host.service, String(lines)],
      { stdin: HOST_SCRIPT, timeoutMs: 15_000 },
    );
    return result.stdout.trim();
  }

  async prune(): Promise<string[]> {
    const out = await this.ssh.run(
      ["sh", "-s", "--", "prune", this.host.install_dir, String(this.host.keep_releases)],
      { stdin: HOST_SCRIPT },
    );
    return out
      .split("\n")
      .filter((l) => l.startsWith("pruned=") && l !== "pruned=done")
      .map((l) => l.slice("pruned=".length));
  }
}

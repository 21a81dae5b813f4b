import { existsSync } from "node:fs";
import { runCommand } from "./processes";

/** Debian packages of the peers and the binary each provides. */
export const PEER_PACKAGES = {
  microsocks: { pkg: "microsocks", binary: "/usr/bin/microsocks" },
  dante: { pkg: "dante-server", binary: "/usr/sbin/danted" },
  // SOCKS over TLS has no Debian server of its own: haproxy terminates TLS in front of microsocks.
  haproxy: { pkg: "haproxy", binary: "/usr/sbin/haproxy" },
} as const;

export type PeerId = keyof typeof PEER_PACKAGES;

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

/**
 * Installs missing peers with apt-get (an `apt-get update` only if the first
 * try fails). Returns the peers that are available afterwards.
 */
export async function ensurePeers(
  install: boolean,
  log: (line: string) => void,
): Promise<Set<PeerId>> {
  const ids = Object.keys(PEER_PACKAGES) as PeerId[];
  const missing = () => ids.filter((id) => !existsSync(PEER_PACKAGES[id].binary));
  if (missing().length > 0 && install) {
    const pkgs = missing().map((id) => PEER_PACKAGES[id].pkg);
    log(`installing ${pkgs.join(", ")} with apt-get`);
    const args = ["install", "-y", "--no-install-recommends", ...pkgs];
    let result = await runCommand("apt-get", args, { timeoutMs: 300000, env: APT_ENV });
    if (result.code !== 0) {
      await runCommand("apt-get", ["update"], { timeoutMs: 300000, env: APT_ENV });
      result = await runCommand("apt-get", args, { timeoutMs: 300000, env: APT_ENV });
    }
    if (result.code !== 0) log(`apt-get failed: ${result.stderr.trim().split("\n").at(-1)}`);
  }
  for (const id of missing()) log(`${PEER_PACKAGES[id].pkg} is not installed; skipping ${id}`);
  return new Set(ids.filter((id) => existsSync(PEER_PACKAGES[id].binary)));
}

/** Installed package versions, for the report header. */
export async function peerVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const [id, { pkg }] of Object.entries(PEER_PACKAGES)) {
    // dpkg-query's ${Version} field, escaped so it does not read as a template placeholder.
    const result = await runCommand("dpkg-query", ["-W", "-f=\u0024{Version}", pkg], {
      timeoutMs: 10000,
    });
    versions[id] = result.code === 0 ? result.stdout.trim() : "not installed";
  }
  return versions;
}

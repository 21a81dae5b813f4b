import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Region hosts for the deploy test: one network namespace per host, each with
 * a veth into a bridge in the root namespace and its own sshd (Debian's
 * openssh-server) that accepts a key made for the test. The namespaces share
 * the file system, so each host gets its own directories in the inventory.
 * Addresses are in 10.200.N.0/24 and exist only on the test's bridge.
 */
export interface FleetHost {
  name: string;
  region: string;
  namespace: string;
  address: string;
  sshd: ChildProcess;
}

export interface SshFleet {
  gateway: string;
  bridge: string;
  identityFile: string;
  knownHostsFile: string;
  hosts: FleetHost[];
  /** Runs argv inside a host's namespace. */
  inNamespace(host: FleetHost, argv: string[]): string[];
  teardown(): void;
}

/** Why the namespace fleet cannot run here, or undefined when it can. */
export function fleetUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (network namespaces and sshd need root)";
  for (const bin of ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/scp", "/usr/bin/ssh-keygen"]) {
    if (!existsSync(bin)) return `${bin} missing (apt-get install openssh-server openssh-client)`;
  }
  try {
    execFileSync("ip", ["netns", "add", `esd-probe-${process.pid}`], { stdio: "pipe" });
    execFileSync("ip", ["netns", "del", `esd-probe-${process.pid}`], { stdio: "pipe" });
  } catch (error) {
    return `cannot create network namespaces: ${(error as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
const quietly = (fn: () => unknown) => {
  try {
    fn();
  } catch {
    // Already gone.
  }
};

/** Kills every process left in a namespace (relays started over SSH outlive their session). */
export function killNamespace(namespace: string): void {
  quietly(() => {
    const pids = execFileSync("ip", ["netns", "pids", namespace], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    for (const pid of pids) quietly(() => process.kill(Number(pid), "SIGKILL"));
  });
}

export async function createSshFleet(options: {
  dir: string;
  regions: string[];
}): Promise<SshFleet> {
  const tag = String(process.pid % 10000);
  const subnet = `10.200.${20 + (process.pid % 200)}`;
  const gateway = `${subnet}.1`;
  const bridge = `esdbr${tag}`;
  const hosts: FleetHost[] = [];
  const namespaces = options.regions.map((region, i) => ({
    region,
    name: `relay-${region}`,
    namespace: `esd${tag}-${i}`,
    veth: `esdv${tag}x${i}`,
    address: `${subnet}.${11 + i}`,
  }));
  const teardown = () => {
    for (const host of hosts) quietly(() => host.sshd.kill("SIGKILL"));
    for (const n of namespaces) {
      killNamespace(n.namespace);
      quietly(() => ip("netns", "del", n.namespace));
      quietly(() => ip("link", "del", n.veth));
    }
    quietly(() => ip("link", "del", bridge));
  };
  teardown();
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${gateway}/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    for (const n of namespaces) {
      ip("netns", "add", n.namespace);
      ip("link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.namespace);
      ip("link", "set", n.veth, "master", bridge);
      ip("link", "set", n.veth, "up");
      ip("-n", n.namespace, "addr", "add", `${n.address}/24`, "dev", "eth0");
      ip("-n", n.namespace, "link", "set", "eth0", "up");
      ip("-n", n.namespace, "link", "set", "lo", "up");
      ip("-n", n.namespace, "route", "add", "default", "via", gateway);
    }
    const sshDir = join(options.dir, "ssh");
    mkdirSync(sshDir, { recursive: true, mode: 0o700 });
    const identityFile = join(sshDir, "client_ed25519");
    const hostKey = join(sshDir, "host_ed25519");
    for (const key of [identityFile, hostKey]) {
      execFileSync("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        "edgesocks-e2e",
        "-f",
        key,
      ]);
    }
    const authorizedKeys = join(sshDir, "authorized_keys");
    execFileSync("cp", [`${identityFile}.pub`, authorizedKeys]);
    // sshd's privilege separation directory.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    for (const n of namespaces) {
      const config = join(sshDir, `sshd-${n.name}.conf`);
      writeFileSync(
        config,
        [
          `ListenAddress ${n.address}:22`,
          `HostKey ${hostKey}`,
          `PidFile ${join(sshDir, `sshd-${n.name}.pid`)}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no",
          "Subsystem sftp /usr/lib/openssh/sftp-server",
          "LogLevel ERROR",
          "",
        ].join("\n"),
      );
      const sshd = spawn(
        "ip",
        ["netns", "exec", n.namespace, "/usr/sbin/sshd", "-D", "-e", "-f", config],
        { stdio: ["ignore", "ignore", "inherit"] },
      );
      hosts.push({
        name: n.name,
        region: n.region,
        namespace: n.namespace,
        address: n.address,
        sshd,
      });
    }
    const knownHostsFile = join(sshDir, "known_hosts");
    // Every sshd answers before the test goes on (bounded).
    for (const host of hosts) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          execFileSync(
            "ssh",
            [
              "-i",
              identityFile,
              "-o",
              "BatchMode=yes",
              "-o",
              `UserKnownHostsFile=${knownHostsFile}`,
              "-o",
              "StrictHostKeyChecking=accept-new",
              "-o",
              "ConnectTimeout=2",
              "-o",
              "LogLevel=ERROR",
              `root@${host.address}`,
              "true",
            ],
            { stdio: "pipe", timeout: 5_000 },
          );
          break;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`sshd on ${host.address} did not answer: ${String(error)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
    return {
      gateway,
      bridge,
      identityFile,
      knownHostsFile,
      hosts,
      inNamespace: (host, argv) => ["ip", "netns", "exec", host.namespace, ...argv],
      teardown,
    };
  } catch (error) {
    teardown();
    throw error;
  }
}

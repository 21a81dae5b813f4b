import { execFileSync } from "node:child_process";

/**
 * Region hosts as network namespaces: each namespace gets one veth into a
 * bridge in the root namespace, so relays, clients and targets in different
 * "regions" really cross a network. Addresses are in 10.77.0.0/24, which
 * exists only inside these namespaces and the test's own bridge.
 */
export interface RegionHost {
  name: string;
  /** The host's address on the test network. */
  address: string;
  /** Prefix for running a command inside the namespace (empty in loopback mode). */
  exec: string[];
}

export interface TestNetwork {
  mode: "netns" | "loopback";
  /** Root namespace's address on the test network (where the control plane and targets listen). */
  gateway: string;
  hosts: RegionHost[];
  teardown(): void;
}

const BRIDGE = "esbr0";
const GATEWAY = "10.77.0.1";

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Already gone.
  }
}

/** True when this process may create namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    ip("netns", "add", "es-probe");
    ip("netns", "del", "es-probe");
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates one namespace per name (or, without the rights to, loopback
 * stand-ins on 127.0.0.x) and returns how to reach and run in each.
 */
export function createTestNetwork(names: string[]): TestNetwork {
  if (!canUseNetns()) {
    return {
      mode: "loopback",
      gateway: "127.0.0.1",
      hosts: names.map((name, i) => ({ name, address: `127.0.0.${11 + i}`, exec: [] })),
      teardown: () => {},
    };
  }
  const namespaces = names.map((name, i) => ({
    name,
    ns: `es-${name}`,
    veth: `esv${i}`,
    address: `10.77.0.${11 + i}`,
  }));
  const teardown = () => {
    for (const n of namespaces) {
      tryIp("netns", "del", n.ns);
      tryIp("link", "del", n.veth);
    }
    tryIp("link", "del", BRIDGE);
  };
  teardown();
  try {
    ip("link", "add", BRIDGE, "type", "bridge");
    ip("addr", "add", `${GATEWAY}/24`, "dev", BRIDGE);
    ip("link", "set", BRIDGE, "up");
    for (const n of namespaces) {
      ip("netns", "add", n.ns);
      ip("link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.ns);
      ip("link", "set", n.veth, "master", BRIDGE);
      ip("link", "set", n.veth, "up");
      ip("-n", n.ns, "addr", "add", `${n.address}/24`, "dev", "eth0");
      ip("-n", n.ns, "link", "set", "eth0", "up");
      ip("-n", n.ns, "link", "set", "lo", "up");
      ip("-n", n.ns, "route", "add", "default", "via", GATEWAY);
    }
  } catch (error) {
    teardown();
    throw error;
  }
  return {
    mode: "netns",
    gateway: GATEWAY,
    hosts: namespaces.map((n) => ({
      name: n.name,
      address: n.address,
      exec: ["ip", "netns", "exec", n.ns],
    })),
    teardown,
  };
}

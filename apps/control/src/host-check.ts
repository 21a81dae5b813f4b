import { hostname, networkInterfaces } from "node:os";

/** Which Host headers the server answers: a set of lowercase names/addresses, or any. */
export type HostAllowList = { any: true } | { any: false; names: ReadonlySet<string> };

const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]"]);
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"];

function normalize(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
}

/**
 * The names a client may use in `Host` (DNS-rebinding protection): the listen address (on a
 * wildcard address, every local interface address and this machine's name; on loopback,
 * `localhost` too) and `extra`; `*` in `extra` allows any.
 */
export function hostAllowList(bindHost: string, extra: readonly string[]): HostAllowList {
  if (extra.includes("*")) return { any: true };
  const names = new Set(extra.map(normalize));
  const bind = normalize(bindHost);
  if (WILDCARDS.has(bindHost.trim()) || WILDCARDS.has(bind)) {
    for (const list of Object.values(networkInterfaces())) {
      for (const entry of list ?? []) names.add(normalize(entry.address));
    }
    names.add(normalize(hostname()));
    for (const name of LOOPBACK_NAMES) names.add(name);
  } else {
    names.add(bind);
    if (LOOPBACK_NAMES.includes(bind) || bind.startsWith("127.")) {
      for (const name of LOOPBACK_NAMES) names.add(name);
    }
  }
  return { any: false, names };
}

/** The name part of a Host header (`name`, `name:port`, `[v6]:port`), lowercase; null if absent. */
export function hostName(header: string | undefined): string | null {
  if (header === undefined || header === "") return null;
  const match = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header.trim());
  return match ? normalize(match[1]!) : null;
}

export function hostAllowed(list: HostAllowList, header: string | undefined): boolean {
  if (list.any) return true;
  const name = hostName(header);
  return name !== null && list.names.has(name);
}

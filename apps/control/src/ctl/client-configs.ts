import { lookup } from "node:dns/promises";
import { renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { formatHostPort, type HostPort, parseHostPort } from "@edgesocks/socks/address";
import { UsageError } from "./args";

/** `user:password` for the relay, written into the configs (files are then mode 0600 anyway). */
export interface ProxyLogin {
  user: string;
  password: string;
}

/** `USER:PASSWORD`; for proxychains without whitespace (its config cannot quote). */
export function parseLogin(text: string, options: { proxychains: boolean }): ProxyLogin {
  const at = text.indexOf(":");
  if (at <= 0) throw new UsageError("--proxy-user: expected USER:PASSWORD");
  if (options.proxychains && /\s/.test(text)) {
    throw new UsageError(
      "--proxy-user: a proxychains config cannot hold a user or password with spaces",
    );
  }
  return { user: text.slice(0, at), password: text.slice(at + 1) };
}

/** A quoted curl config string (backslash and double quote escaped). */
const quoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** A curl config (`curl -K FILE`, or ~/.curlrc): SOCKS5 with names resolved by the relay. */
export function curlrc(address: string, login?: ProxyLogin): string {
  const lines = ["# written by edgesocksctl nearest", `socks5-hostname = ${quoted(address)}`];
  if (login) lines.push(`proxy-user = ${quoted(`${login.user}:${login.password}`)}`);
  return `${lines.join("\n")}\n`;
}

/**
 * A proxychains-ng config with one SOCKS5 proxy. proxychains wants a numeric address, so a
 * host name is resolved here (and the file says from which name).
 */
export async function proxychainsConf(address: string, login?: ProxyLogin): Promise<string> {
  const target = parseHostPort(address);
  if (target === undefined) throw new UsageError(`"${address}" is not host:port`);
  const ip: HostPort =
    isIP(target.host) === 0
      ? { host: (await lookup(target.host)).address, port: target.port }
      : target;
  const entry = `socks5 ${ip.host} ${ip.port}${login ? ` ${login.user} ${login.password}` : ""}`;
  return [
    `# written by edgesocksctl nearest: ${formatHostPort(target)}${ip === target ? "" : ` (resolved to ${ip.host})`}`,
    "strict_chain",
    "proxy_dns",
    "remote_dns_subnet 224",
    "tcp_read_time_out 15000",
    "tcp_connect_time_out 8000",
    "",
    "[ProxyList]",
    entry,
    "",
  ].join("\n");
}

/** Writes a file whole or not at all (temp file, rename), mode 0600: it may hold a password. */
export function writeAtomically(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, path);
}

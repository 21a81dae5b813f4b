import { isIP } from "node:net";

/** A SOCKS endpoint as relays report it with `--public-address`. */
export interface HostPort {
  /** A DNS name, an IPv4 address, or an IPv6 address without brackets. */
  host: string;
  port: number;
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);

/**
 * `host:port` or `[v6]:port` → parts; undefined when malformed. Strict, because the result is
 * written into PAC files and client configs: no spaces, quotes or `;` can get through.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined) return isIP(match[1]) === 6 ? { host: match[1], port } : undefined;
  const host = match[2]!;
  return isIP(host) === 4 || HOSTNAME.test(host) ? { host, port } : undefined;
}

/** The inverse of parseHostPort: brackets around IPv6 addresses. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

import { ipFamily } from "./ip-text";

/** An endpoint: a host and a port. */
export interface HostPort {
  /** A DNS name, an IPv4 address, or an IPv6 address without brackets. */
  host: string;
  port: number;
}

/**
 * `host:port` or `[host]:port` split at its last colon, with no check of the host beyond "not
 * empty, no colon unless in brackets" and a port of 0-65535; undefined when it is not that shape.
 * Callers check the host for what they need (an IP to listen on, a name to connect to).
 */
export function splitHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);

/**
 * `host:port` or `[v6]:port` → parts; undefined when malformed. Strict, because the result is
 * written into PAC files and client configs: the host is a DNS name, an IPv4 address or a
 * bracketed IPv6 address (no zone id), the port 1-65535; no spaces, quotes or `;` get through.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined)
    return ipFamily(match[1]) === 6 ? { host: match[1], port } : undefined;
  const host = match[2]!;
  return ipFamily(host) === 4 || HOSTNAME.test(host) ? { host, port } : undefined;
}

/** The inverse of parseHostPort: brackets around IPv6 addresses. */
export function formatHostPort({ host, port }: HostPort): string {
  return ipFamily(host, { zone: true }) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

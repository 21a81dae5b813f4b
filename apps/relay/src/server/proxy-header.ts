import type { Socket } from "node:net";
import { decodeProxyHeader, type ProxyVersions } from "@edgesocks/socks";
import { type IpNetwork, networkContains, parseNetwork } from "@edgesocks/socks/address";

/** Who the client is, per the load balancer's header (or the peer itself), and its first bytes. */
export interface ProxiedClient {
  address: string;
  port: number;
  /** Bytes after the header, already read: the start of the SOCKS handshake. */
  early: Buffer | null;
}

export interface ProxyHeaderOptions {
  versions: ProxyVersions;
  trusted: readonly string[];
  /** The header must arrive within this. */
  timeoutMs: number;
}

/** Why a connection was refused before its session began (a rejected-record and metric reason). */
export type ProxyRefusal =
  | "proxy_protocol_untrusted"
  | "proxy_protocol_invalid"
  | "proxy_protocol_timeout";

/**
 * Reads the PROXY header on a listener with proxy_protocol on, before the SOCKS session exists.
 * A trusted source must send one (a LOCAL header or UNSPEC address keeps the peer's own address);
 * any other source is served as itself, and refused if it sends a header.
 */
export function proxyHeaderReader(options: ProxyHeaderOptions) {
  const networks: IpNetwork[] = options.trusted.map((text) => {
    const parsed = parseNetwork(text);
    if (!parsed.ok) throw new Error(`server.proxy_protocol_trusted: ${parsed.error}`);
    return parsed.network;
  });
  const isTrusted = (address: string) => networks.some((n) => networkContains(n, address));

  return (
    socket: Socket,
    onClient: (client: ProxiedClient) => void,
    /** `peer`: the address the connection came from, captured at accept. */
    onRefused: (reason: ProxyRefusal, peer: { address: string; port: number }) => void,
  ): void => {
    const peer = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    const trusted = isTrusted(peer.address);
    let buffer: Buffer | null = null;
    const finish = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const refuse = (reason: ProxyRefusal) => {
      finish();
      onRefused(reason, peer);
    };
    const onData = (chunk: Buffer) => {
      buffer = buffer ? Buffer.concat([buffer, chunk]) : chunk;
      // Any version from an untrusted peer: a header is refused, whichever one it is.
      const result = decodeProxyHeader(buffer, 0, trusted ? options.versions : "any");
      if (result.status === "incomplete") return;
      if (!trusted) {
        if (result.status === "ok") {
          refuse("proxy_protocol_untrusted");
          return;
        }
        // Not a header: the peer speaks SOCKS as itself.
        finish();
        onClient({ ...peer, early: buffer });
        return;
      }
      if (result.status === "invalid") {
        refuse("proxy_protocol_invalid");
        return;
      }
      finish();
      const rest = buffer.length > result.length ? buffer.subarray(result.length) : null;
      const header = result.value;
      onClient(
        header.command === "proxy"
          ? { address: header.source, port: header.sourcePort, early: rest }
          : { ...peer, early: rest },
      );
    };
    const onError = () => finish();
    const onClose = () => finish();
    const timer = setTimeout(() => refuse("proxy_protocol_timeout"), options.timeoutMs);
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
  };
}

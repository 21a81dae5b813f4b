import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { isIPv6, type Socket } from "node:net";
import type { RouteHop } from "@edgesocks/policy";
import {
  addressFromHost,
  decodeUdpHeader,
  encodeUdpDatagram,
  type SocksAddress,
} from "@edgesocks/socks";
import { HandshakeIo } from "./handshake-io";
import { negotiateSocks5 } from "./hop-handshake";
import { type HeaderEndpoint, outboundProxyHeader } from "./outbound-proxy-header";
import type { ResolvedAddress } from "./resolver";
import { connectUpstream } from "./upstream";

export type Socks5Hop = Extract<RouteHop, { type: "socks5" }>;

export interface ParentUdpOptions {
  hop: Socks5Hop;
  /** The hop's addresses, already passed by the egress guard. */
  addresses: ResolvedAddress[];
  /** For the TCP connect and the UDP ASSOCIATE handshake together. */
  timeoutMs: number;
  /** A datagram the parent relayed back, from `address`:`port`. */
  onReply: (address: SocksAddress, port: number, payload: Buffer) => void;
  /** The control connection ended: the association is gone. */
  onClose: () => void;
  /** The chain's `proxy_protocol`: a header naming `client` goes ahead of the handshake. */
  proxyProtocol?: "v1" | "v2";
  /** The SOCKS client (after an inbound PROXY header). */
  client: HeaderEndpoint;
}

export type ParentUdpResult =
  | { ok: true; parent: ParentUdp }
  | {
      ok: false;
      kind: "connect" | "timeout" | "closed" | "protocol" | "auth" | "refused";
      detail: string;
    };

/**
 * A UDP ASSOCIATE with a SOCKS5 parent (RFC 1928 §7): a TCP control connection that keeps it
 * alive and a local UDP socket whose datagrams carry the RFC 1928 header to the parent's relay
 * address. Replies from anywhere but that address are ignored.
 */
export class ParentUdp {
  #closed = false;

  private constructor(
    readonly control: Socket,
    readonly udp: UdpSocket,
    readonly relayAddress: string,
    readonly relayPort: number,
    readonly options: ParentUdpOptions,
  ) {
    udp.on("message", (message, from) => {
      if (from.address !== relayAddress || from.port !== relayPort) return;
      const decoded = decodeUdpHeader(message);
      if (decoded.status !== "ok" || decoded.value.frag !== 0) return;
      options.onReply(decoded.value.address, decoded.value.port, message.subarray(decoded.length));
    });
    udp.on("error", () => this.close());
    control.on("data", () => {});
    control.on("end", () => this.close());
    control.on("close", () => this.close());
    control.on("error", () => this.close());
    control.resume();
  }

  static async open(options: ParentUdpOptions): Promise<ParentUdpResult> {
    const started = performance.now();
    const connected = await connectUpstream(options.addresses, {
      port: options.hop.port,
      timeoutMs: options.timeoutMs,
    });
    if (!connected.ok) {
      return {
        ok: false,
        kind: connected.code === "ETIMEDOUT" ? "timeout" : "connect",
        detail: connected.code,
      };
    }
    const control = connected.socket;
    const local = control.localAddress ?? "0.0.0.0";
    const udp = createSocket(isIPv6(local) ? "udp6" : "udp4");
    let timedOut = false;
    const budget = setTimeout(
      () => {
        timedOut = true;
        control.destroy();
      },
      Math.max(1, options.timeoutMs - (performance.now() - started)),
    );
    let handedOver = false;
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind({ address: local, port: 0 }, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      if (options.proxyProtocol !== undefined) {
        const hop = { address: connected.address.address, port: options.hop.port };
        control.write(outboundProxyHeader(options.proxyProtocol, options.client, hop));
      }
      const io = new HandshakeIo(control);
      // The address our datagrams come from, so the parent accepts only them.
      const outcome = await negotiateSocks5(
        io,
        options.hop,
        { address: addressFromHost(local), port: udp.address().port },
        "udp-associate",
      );
      if (timedOut)
        return { ok: false, kind: "timeout", detail: `no answer within ${options.timeoutMs} ms` };
      if (!outcome.ok) return { ok: false, kind: outcome.kind, detail: outcome.detail };
      const { host, port } = outcome.bound;
      // 0.0.0.0 or :: means the parent's own address.
      const relayAddress =
        host === "0.0.0.0" || host === "::" ? (control.remoteAddress ?? host) : host;
      handedOver = true;
      return { ok: true, parent: new ParentUdp(io.release(), udp, relayAddress, port, options) };
    } catch (error) {
      return {
        ok: false,
        kind: "connect",
        detail: (error as NodeJS.ErrnoException).code ?? "EUNKNOWN",
      };
    } finally {
      clearTimeout(budget);
      if (!handedOver) {
        control.destroy();
        udp.close();
      }
    }
  }

  send(address: SocksAddress, port: number, payload: Uint8Array): void {
    if (this.#closed) return;
    this.udp.send(
      encodeUdpDatagram({ frag: 0, address, port }, payload),
      this.relayPort,
      this.relayAddress,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.control.destroy();
    this.udp.close();
    this.options.onClose();
  }
}

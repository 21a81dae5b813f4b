import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from "node:tls";
import type { ConnectionGate } from "../limits/connection-gate";
import type { RelayMetrics } from "../metrics";
import { readInPlace } from "../net/in-place-reads";
import type { ProxiedClient } from "./proxy-header";

/**
 * Reads a PROXY header off a raw TCP connection and calls `onClient` with who the client is;
 * refusing the connection is its own business.
 */
export type ProxyHeaderStep = (socket: Socket, onClient: (client: ProxiedClient) => void) => void;

export interface SocksListenerOptions {
  host: string;
  port: number;
  /** Set for SOCKS over TLS. */
  tls?: TlsOptions;
  metrics: RelayMetrics;
  /** Open client connections at most, across all listeners sharing `counter`. */
  maxConnections: number;
  /** A TLS handshake must finish within this. */
  handshakeTimeoutMs: number;
  gate: ConnectionGate;
  /** SO_REUSEPORT: worker threads each listen on the same port and the kernel spreads connections. */
  reusePort?: boolean;
  /**
   * TLS only: the PROXY header precedes the ClientHello, so it is read off the TCP connection
   * before TLS starts; the client it names reaches `onConnection` as `proxied`. (Plain
   * listeners read it in the session layer, after the socket moved to in-place reads.)
   */
  proxyHeader?: ProxyHeaderStep | undefined;
  onConnection: (socket: Socket, transport: "tcp" | "tls", proxied?: ProxiedClient) => void;
  /** A connection turned away here (over max_connections): it still leaves a record. */
  onRejected?: (socket: Socket, transport: "tcp" | "tls", reason: string) => void;
}

export interface SocksListener {
  /** The server that listens (for TLS with a PROXY header, the TCP server in front of TLS). */
  readonly server: Server;
  /** The TLS server, for certificate reloads. */
  readonly tls?: TlsServer | undefined;
  address(): AddressInfo;
  /** Stops accepting; resolves once every connection has closed. */
  stop(): Promise<void>;
  /** Destroys every connection still open, including TLS handshakes in progress. */
  destroyAll(): void;
}

/** A plain or TLS listener that hands accepted sockets to the session layer. */
export async function listen(options: SocksListenerOptions): Promise<SocksListener> {
  const { metrics, gate } = options;
  const transport = options.tls ? "tls" : "tcp";
  // Every TCP connection, including TLS ones still in their handshake (the
  // session layer does not know those yet), so shutdown can close them all.
  const sockets = new Set<Socket>();
  // Shared handlers (`this` is the socket): nothing is allocated per connection for them.
  // stop() resolves once the last tracked connection closed (the server's own
  // count does not see connections moved to in-place sockets).
  let drained: (() => void) | null = null;
  function untrack(socket: Socket): void {
    sockets.delete(socket);
    if (drained !== null && sockets.size === 0) drained();
  }
  function release(this: Socket): void {
    untrack(this);
    gate.close();
    metrics.connectionsActive.dec();
  }
  // TLS after a PROXY header: who the header named, by TCP socket (a TLSSocket's _parent).
  const proxiedBy = new WeakMap<Socket, ProxiedClient>();
  const accept = (socket: Socket) => {
    metrics.connectionsTotal.inc();
    if (!gate.tryOpen(options.maxConnections)) {
      metrics.rejectedTotal.inc({ reason: "max_connections" });
      options.onRejected?.(socket, transport, "max_connections");
      socket.on("error", ignore);
      socket.destroy();
      return;
    }
    metrics.connectionsActive.inc();
    if (!options.tls) sockets.add(socket);
    socket.once("close", release);
    const raw = (socket as Socket & { _parent?: Socket })._parent;
    const proxied = raw === undefined ? undefined : proxiedBy.get(raw);
    options.onConnection(socket, transport, proxied);
  };
  let server: Server;
  let tls: TlsServer | undefined;
  if (options.tls) {
    const tlsServer = createTlsServer({
      ...options.tls,
      allowHalfOpen: true,
      noDelay: true,
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    tlsServer.on("secureConnection", (socket: TLSSocket) => accept(socket));
    tlsServer.on("tlsClientError", (_error, socket) => {
      metrics.tlsHandshakeFailures.inc();
      socket.destroy();
    });
    // TLS: track the TCP sockets from accept on, handshakes included.
    tlsServer.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.once("close", forget);
    });
    tls = tlsServer;
    server = tlsServer;
    const readHeader = options.proxyHeader;
    if (readHeader) {
      // The header first, on the TCP connection; then the TLS server takes the connection
      // as if it had accepted it, with what followed the header (the ClientHello's start)
      // put back to be read first.
      server = createServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
        sockets.add(raw);
        raw.once("close", forget);
        readHeader(raw, (client) => {
          raw.pause();
          proxiedBy.set(raw, client);
          if (client.early) raw.unshift(client.early);
          tlsServer.emit("connection", raw);
        });
      });
    }
  } else {
    // Accepted paused, so the connection can move to a socket that reads in place.
    server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) =>
      accept(readInPlace(socket)),
    );
  }
  function forget(this: Socket): void {
    untrack(this);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listenOptions = { host: options.host, port: options.port, backlog: 4096 };
    server.listen(options.reusePort ? { ...listenOptions, reusePort: true } : listenOptions, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    tls,
    address: () => server.address() as AddressInfo,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (sockets.size > 0) await new Promise<void>((resolve) => (drained = resolve));
      await closed;
    },
    destroyAll: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

function ignore(): void {}

import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

export interface DelayForwarder {
  host: string;
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A TCP forwarder that delays every chunk by `delayMs` in each direction:
 * distance between test hosts on a kernel without netem. A connection
 * therefore costs one round trip of 2 × delayMs before the first byte.
 */
export function startDelayForwarder(options: {
  listenHost?: string;
  targetHost: string;
  targetPort: number;
  delayMs: number;
}): Promise<DelayForwarder> {
  const { targetHost, targetPort, delayMs } = options;
  const listenHost = options.listenHost ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const delayed = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    from.on("end", () => setTimeout(() => to.end(), delayMs));
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    // The SYN/SYN-ACK of the real connection happens after one delay, like distance would.
    client.pause();
    setTimeout(() => {
      const upstream = connect({ host: targetHost, port: targetPort, allowHalfOpen: true });
      sockets.add(upstream);
      upstream.on("connect", () => client.resume());
      delayed(client, upstream);
      delayed(upstream, client);
      const destroyBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", destroyBoth);
      upstream.on("error", destroyBoth);
      client.on("close", () => sockets.delete(client));
      upstream.on("close", () => sockets.delete(upstream));
    }, delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, listenHost, () => {
      const close = () =>
        new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        });
      resolve({
        host: listenHost,
        port: (server.address() as AddressInfo).port,
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}

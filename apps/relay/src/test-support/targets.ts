import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";

export interface Target {
  host: string;
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function wrap(server: Server, host: string): Promise<Target> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      const close = () =>
        new Promise<void>((done) => {
          server.close(() => done());
          (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        });
      resolve({ host, port, close, [Symbol.asyncDispose]: close });
    });
  });
}

/** An HTTP server that answers every request with `body` (and the request path in a header). */
export function startHttpTarget(body = "hello from target", host = "127.0.0.1"): Promise<Target> {
  const server = createHttpServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-path": req.url ?? "" }).end(body);
  });
  return wrap(server as unknown as Server, host);
}

/** A TCP echo server; `onSocket` sees every accepted socket. */
export function startEchoTarget(
  host = "127.0.0.1",
  onSocket?: (socket: Socket) => void,
): Promise<Target> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket?.(socket);
    if (!onSocket) socket.pipe(socket);
  });
  return wrap(server, host).then((target) => {
    const close = async () => {
      for (const s of sockets) s.destroy();
      await target.close();
    };
    // `await using` must destroy the open sockets too, or closing waits for them.
    return { ...target, close, [Symbol.asyncDispose]: close };
  });
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const target = await wrap(createServer(), "127.0.0.1");
  await target.close();
  return target.port;
}

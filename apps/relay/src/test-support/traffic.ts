import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { SocksClient } from "socks";
import { connectRequestDomain, connectRequestV4, RawClient } from "./raw-client";

export interface SocksTarget {
  host: string;
  port: number;
  /** Bytes received from all connections (sink targets). */
  received(): number;
  /** Connections accepted so far. */
  readonly sockets: Socket[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const BLOCK = Buffer.alloc(64 * 1024, 0x61);

function serve(onSocket: (socket: Socket, count: (bytes: number) => void) => void) {
  let received = 0;
  const sockets: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    onSocket(socket, (bytes) => {
      received += bytes;
    });
  });
  return new Promise<SocksTarget>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const close = () =>
        new Promise<void>((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        });
      resolve({
        host: "127.0.0.1",
        port: (server.address() as AddressInfo).port,
        received: () => received,
        sockets,
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}

/** A destination that sends to every connection as fast as the connection takes it. */
export function startSourceTarget(): Promise<SocksTarget> {
  return serve((socket) => {
    const pump = () => {
      while (!socket.destroyed && socket.write(BLOCK));
    };
    socket.on("drain", pump);
    socket.resume();
    pump();
  });
}

/** A destination that reads and counts everything it is sent. */
export function startSinkTarget(): Promise<SocksTarget> {
  return serve((socket, count) => {
    socket.on("data", (chunk: Buffer) => count(chunk.length));
  });
}

export interface SocksConnectOptions {
  proxyPort: number;
  host: string;
  port: number;
  user?: string;
  password?: string;
}

/** A SOCKS5 CONNECT through the relay with the `socks` package, as a real client would. */
export async function socksConnect(options: SocksConnectOptions): Promise<Socket> {
  const { socket } = await SocksClient.createConnection({
    proxy: {
      host: "127.0.0.1",
      port: options.proxyPort,
      type: 5,
      ...(options.user ? { userId: options.user, password: options.password ?? "" } : {}),
    },
    command: "connect",
    destination: { host: options.host, port: options.port },
    timeout: 5000,
  });
  socket.on("error", () => {});
  return socket;
}

/** Reads from `socket` for `ms` and returns the bytes received; then destroys it. */
export function download(socket: Socket, ms: number): Promise<number> {
  let bytes = 0;
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  socket.resume();
  return new Promise((resolve) =>
    setTimeout(() => {
      socket.destroy();
      resolve(bytes);
    }, ms),
  );
}

/** Writes to `socket` as fast as it takes it for `ms`, then destroys it. */
export function upload(socket: Socket, ms: number): Promise<void> {
  let stop = false;
  const pump = () => {
    while (!stop && !socket.destroyed && socket.write(BLOCK));
  };
  socket.on("drain", pump);
  pump();
  return new Promise((resolve) =>
    setTimeout(() => {
      stop = true;
      socket.destroy();
      resolve();
    }, ms),
  );
}

/** Bytes per second. */
export const rate = (bytes: number, ms: number): number => (bytes / ms) * 1000;

async function expectBytes(client: RawClient, expected: number[]): Promise<void> {
  const got = [...(await client.read(expected.length))];
  if (got.join() !== expected.join()) throw new Error(`expected [${expected}], got [${got}]`);
}

/**
 * A raw SOCKS5 greeting (with RFC 1929 when `user` is set; the password is the user name) and
 * CONNECT; returns the client and the 10-byte reply.
 */
export async function socks5Connect(
  relayPort: number,
  host: string,
  port: number,
  user?: string,
): Promise<{ client: RawClient; reply: number[] }> {
  const client = await RawClient.open(relayPort);
  if (user) {
    client.write([5, 1, 2]);
    await expectBytes(client, [5, 2]);
    const name = Buffer.from(user);
    client.write([1, name.length, ...name, name.length, ...name]);
    await expectBytes(client, [1, 0]);
  } else {
    client.write([5, 1, 0]);
    await expectBytes(client, [5, 0]);
  }
  client.write(
    /^\d+\.\d+\.\d+\.\d+$/.test(host)
      ? connectRequestV4(host, port)
      : connectRequestDomain(host, port),
  );
  return { client, reply: [...(await client.read(10))] };
}

import { type AddressInfo, connect, createServer, type Socket } from "node:net";

/**
 * Two connected loopback sockets: [accepted side, connecting side].
 * `highWaterMark` sets the accepted side's buffering before write() says stop.
 */
export async function socketPair(highWaterMark?: number): Promise<[Socket, Socket]> {
  const server = createServer({
    allowHalfOpen: true,
    ...(highWaterMark !== undefined ? { highWaterMark } : {}),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connect({
    port: (server.address() as AddressInfo).port,
    host: "127.0.0.1",
    allowHalfOpen: true,
  });
  const pair: [Socket, Socket] = [await accepted, client];
  server.close();
  return pair;
}

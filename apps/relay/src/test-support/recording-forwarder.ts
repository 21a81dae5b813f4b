import { connect, createServer, type Socket } from "node:net";

export interface RecordingForwarder {
  port: number;
  /** Everything that crossed it so far, both directions. */
  seen(): Buffer;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A loopback TCP forwarder in front of a server that keeps a copy of every
 * byte it passes: what an observer on the wire would see, without a capture.
 */
export async function startRecordingForwarder(targetPort: number): Promise<RecordingForwarder> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      client.write(chunk);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("forwarder not bound");
  return {
    port: address.port,
    seen: () => Buffer.concat(chunks),
    [Symbol.asyncDispose]: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

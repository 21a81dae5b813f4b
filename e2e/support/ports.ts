import { type AddressInfo, createServer } from "node:net";

/** A TCP port that was free a moment ago on `host` (below 32768 is not guaranteed). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

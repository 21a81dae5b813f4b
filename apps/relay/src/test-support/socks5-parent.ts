import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import {
  AuthMethod,
  decodeGreeting,
  decodeRequest,
  decodeUserPassRequest,
  encodeMethodSelection,
  encodeReply,
  encodeUserPassReply,
  failureReply,
  Reply,
  type SocksAddress,
} from "@edgesocks/socks";

export interface ParentRequest {
  address: SocksAddress;
  port: number;
  username: string | null;
}

export interface Socks5Parent extends AsyncDisposable {
  port: number;
  /** Every CONNECT it was asked for, in order. */
  requests: ParentRequest[];
  close(): Promise<void>;
}

/**
 * A small SOCKS5 server of the test's own, standing for an upstream parent where a test must
 * see what the parent was sent (a name passed unresolved). Names are "resolved" only from
 * `hosts`, so a name nothing else on the machine knows can be reached through it.
 */
export async function startSocks5Parent(
  options: {
    hosts?: Record<string, string>;
    credentials?: { username: string; password: string };
  } = {},
): Promise<Socks5Parent> {
  const requests: ParentRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    let buffer = Buffer.alloc(0);
    let stage: "greeting" | "auth" | "request" | "done" = "greeting";
    let username: string | null = null;
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (stage === "greeting") {
          const g = decodeGreeting(buffer);
          if (g.status !== "ok") return g.status === "invalid" ? void client.destroy() : undefined;
          buffer = buffer.subarray(g.length);
          const wanted = options.credentials ? AuthMethod.UserPass : AuthMethod.None;
          if (!g.value.methods.includes(wanted))
            return void client.end(encodeMethodSelection(0xff));
          client.write(encodeMethodSelection(wanted));
          stage = options.credentials ? "auth" : "request";
        } else if (stage === "auth") {
          const a = decodeUserPassRequest(buffer);
          if (a.status !== "ok") return a.status === "invalid" ? void client.destroy() : undefined;
          buffer = buffer.subarray(a.length);
          const good =
            a.value.username === options.credentials!.username &&
            a.value.password === options.credentials!.password;
          if (!good) return void client.end(encodeUserPassReply(false));
          username = a.value.username;
          client.write(encodeUserPassReply(true));
          stage = "request";
        } else if (stage === "request") {
          const r = decodeRequest(buffer);
          if (r.status !== "ok") return r.status === "invalid" ? void client.destroy() : undefined;
          buffer = buffer.subarray(r.length);
          stage = "done";
          client.removeListener("data", onData);
          client.pause();
          const { address, port } = r.value;
          requests.push({ address, port, username });
          const host = address.type === "domain" ? options.hosts?.[address.host] : address.host;
          if (host === undefined) return void client.end(failureReply(Reply.HostUnreachable));
          const upstream = connect({ host, port });
          sockets.add(upstream);
          upstream.on("close", () => sockets.delete(upstream));
          upstream.once("error", () => client.end(failureReply(Reply.ConnectionRefused)));
          upstream.once("connect", () => {
            client.write(
              encodeReply({ reply: 0, address: { type: "ipv4", host: "127.0.0.1" }, port: 0 }),
            );
            if (buffer.length > 0) upstream.write(buffer);
            client.pipe(upstream).pipe(client);
            client.resume();
          });
          return;
        } else return;
      }
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

import { type AddressInfo, createServer, type Server, type Socket } from "node:net";

export type BindOutcome =
  | { ok: true; socket: Socket }
  | { ok: false; reason: "timeout" | "closed" };

export interface BindWaitOptions {
  timeoutMs: number;
  /** Whether this peer is the one the client announced; others are refused. */
  accept: (peer: { address: string; port: number }) => boolean;
  onRefused: (peer: { address: string; port: number }) => void;
}

/**
 * The listening half of SOCKS BIND: one ephemeral port that accepts exactly
 * one connection from the expected peer, then stops listening.
 */
export class BindListener {
  #settle: ((outcome: BindOutcome) => void) | undefined;

  private constructor(private readonly server: Server) {}

  static open(host: string): Promise<BindListener> {
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0, backlog: 8 }, () => {
        server.off("error", reject);
        resolve(new BindListener(server));
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  waitForPeer(options: BindWaitOptions): Promise<BindOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish({ ok: false, reason: "timeout" }), options.timeoutMs);
      const finish = (outcome: BindOutcome) => {
        if (!this.#settle) return;
        this.#settle = undefined;
        clearTimeout(timer);
        this.server.removeAllListeners("connection");
        this.server.close();
        resolve(outcome);
      };
      this.#settle = finish;
      this.server.on("connection", (socket: Socket) => {
        const peer = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
        if (!options.accept(peer)) {
          options.onRefused(peer);
          socket.on("error", () => {});
          socket.destroy();
          return;
        }
        finish({ ok: true, socket });
      });
    });
  }

  /** Gives up waiting (the client went away). */
  close(): void {
    this.#settle?.({ ok: false, reason: "closed" });
    this.server.close();
  }
}

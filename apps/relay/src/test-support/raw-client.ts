import { connect, type Socket } from "node:net";

/** A raw TCP client for driving the relay byte by byte in tests. */
export class RawClient {
  readonly socket: Socket;
  #received = Buffer.alloc(0);
  #ended = false;
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  /** `localAddress`: the address to connect from (another loopback address, say). */
  static open(port: number, host = "127.0.0.1", localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const where = localAddress ? { port, host, localAddress } : { port, host };
      const socket = connect({ ...where, allowHalfOpen: true }, () =>
        resolve(new RawClient(socket)),
      );
      socket.once("error", reject);
    });
  }

  write(bytes: Uint8Array | number[] | string): void {
    this.socket.write(typeof bytes === "string" ? bytes : Buffer.from(bytes as Uint8Array));
  }

  /** Waits for exactly `n` bytes (or fewer if the relay closes) and consumes them. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.#until(() => this.#received.length >= n || this.#ended, timeoutMs);
    const out = this.#received.subarray(0, n);
    this.#received = this.#received.subarray(out.length);
    return Buffer.from(out);
  }

  /** Reads until the relay ends the stream; returns everything not yet consumed. */
  async readToEnd(timeoutMs = 5000): Promise<Buffer> {
    await this.#until(() => this.#ended, timeoutMs);
    const out = this.#received;
    this.#received = Buffer.alloc(0);
    return out;
  }

  /** Resolves when the socket has closed (the relay hung up). */
  async closed(timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.#closed || this.#ended, timeoutMs);
  }

  get isClosed(): boolean {
    return this.#closed || this.#ended;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  [Symbol.dispose](): void {
    this.socket.destroy();
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #until(condition: () => boolean, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out after ${timeoutMs} ms (have ${this.#received.length} bytes)`),
          ),
        timeoutMs,
      );
      const check = () => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }
}

/** SOCKS5 CONNECT request bytes for an IPv4 literal. */
export function connectRequestV4(host: string, port: number, command = 1): number[] {
  return [5, command, 0, 1, ...host.split(".").map(Number), port >> 8, port & 255];
}

/** SOCKS5 CONNECT request bytes for a domain. */
export function connectRequestDomain(host: string, port: number): number[] {
  const name = Buffer.from(host, "latin1");
  return [5, 1, 0, 3, name.length, ...name, port >> 8, port & 255];
}

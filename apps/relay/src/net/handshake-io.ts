import type { Socket } from "node:net";
import type { Decoded } from "@edgesocks/socks";

/** Why reading a handshake message from an upstream hop stopped short. */
export type ReadFailure =
  | { kind: "closed" }
  | { kind: "error"; code: string }
  | { kind: "protocol"; message: string };

export type ReadResult<T> = { ok: true; value: T } | ({ ok: false } & ReadFailure);

/**
 * Request/response over a socket still in its handshake: bytes are read as 'data' and decoded
 * as they come; what follows the last message stays for the tunnel (release() puts it back).
 * One read at a time. The caller bounds the whole exchange by destroying the socket.
 */
export class HandshakeIo {
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: (() => void) | null = null;
  #failure: ReadFailure | null = null;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#wake();
  };
  readonly #onEnd = () => this.#fail({ kind: "closed" });
  readonly #onClose = () => this.#fail({ kind: "closed" });
  readonly #onError = (error: NodeJS.ErrnoException) =>
    this.#fail({ kind: "error", code: error.code ?? "EUNKNOWN" });

  constructor(readonly socket: Socket) {
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onError);
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next message `decode` finds at the start of what was read. */
  async read<T>(decode: (buf: Uint8Array) => Decoded<T>): Promise<ReadResult<T>> {
    for (;;) {
      const decoded = decode(this.#buffer);
      if (decoded.status === "ok") {
        this.#buffer = this.#buffer.subarray(decoded.length);
        return { ok: true, value: decoded.value };
      }
      if (decoded.status === "invalid") {
        return { ok: false, kind: "protocol", message: decoded.error.message };
      }
      if (this.#failure) return { ok: false, ...this.#failure };
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
  }

  /** Hands the socket over: listeners off, reading paused, unread bytes put back in front. */
  release(): Socket {
    const { socket } = this;
    socket.removeListener("data", this.#onData);
    socket.removeListener("end", this.#onEnd);
    socket.removeListener("close", this.#onClose);
    socket.removeListener("error", this.#onError);
    socket.pause();
    if (this.#buffer.length > 0) socket.unshift(this.#buffer);
    this.#buffer = Buffer.alloc(0);
    return socket;
  }

  #fail(failure: ReadFailure): void {
    this.#failure ??= failure;
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }
}

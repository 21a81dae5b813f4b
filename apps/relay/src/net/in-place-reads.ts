import { type OnReadOpts, Socket, type SocketConstructorOpts } from "node:net";

/**
 * Takes an upstream socket's bytes in place of 'data' events. `chunk` may sit
 * in a buffer that a later read overwrites: return true when a reference to
 * it outlives the call (a write still in flight), so that read goes elsewhere.
 */
export type InPlaceReader = (chunk: Buffer) => boolean;

/**
 * Idle and slow sockets all read here, and each read is copied out at once.
 * A read that fills it means a stream.
 */
const SHARED_BYTES = 64 * 1024;
/**
 * A streaming socket's own buffer, kept while its reads bring at least
 * SHARED_BYTES. Four times Node's read size: a quarter of the read and write
 * calls, and bulk transfers went from ~0.9 to ~1.6 GB/s on loopback.
 */
const OWN_BYTES = 256 * 1024;

let shared: Buffer | null = null;

function sharedBuffer(): Buffer {
  shared ??= Buffer.allocUnsafe(SHARED_BYTES);
  return shared;
}

// A property on the socket, not a WeakMap: a WeakMap insert per connection
// showed up in the connection-rate profile (1.7% of busy time).
const READS = Symbol("edgesocks.inPlaceReads");
type WithReads = Socket & { [READS]?: InPlaceReads };

/**
 * The reads of one upstream socket, through net.connect's `onread`. Without
 * it Node allocates a fresh 64 KiB buffer for every read; in bulk transfers
 * allocating and collecting those took about as much CPU as the relaying
 * itself. A streaming socket reads into a larger buffer of its own, reused
 * for as long as the reader keeps no reference to the last read. An idle or
 * slow socket owns no buffer, so open connections cost no memory for this.
 */
export class InPlaceReads {
  #socket: Socket | null = null;
  #reader: InPlaceReader | null = null;
  #own: Buffer | null = null;
  #next: Buffer = sharedBuffer();

  /** For net.connect(); then adopt() the socket it returns. */
  readonly onread: OnReadOpts = {
    buffer: this.#nextBuffer.bind(this),
    callback: this.#onRead.bind(this),
  };

  adopt(socket: Socket): void {
    this.#socket = socket;
    (socket as WithReads)[READS] = this;
  }

  /**
   * Sends `socket`'s bytes to `reader` from now on; before that they are
   * ordinary 'data'. False when `socket` does not read in place (accepted
   * sockets, BIND peers): listen for 'data'.
   */
  static setReader(socket: Socket, reader: InPlaceReader): boolean {
    const reads = (socket as WithReads)[READS];
    if (reads === undefined) return false;
    reads.#reader = reader;
    return true;
  }

  /** Runs with every read, synchronously: `buffer` holds `nread` new bytes. */
  #onRead(nread: number, buffer: Uint8Array): boolean {
    const own = buffer === this.#own;
    // The shared buffer serves every socket, so its bytes never outlive this call.
    const chunk = own
      ? Buffer.from(buffer.buffer, buffer.byteOffset, nread)
      : Buffer.copyBytesFrom(buffer, 0, nread);
    let kept = false;
    if (this.#reader !== null) kept = this.#reader(chunk);
    else this.#socket?.push(own ? Buffer.copyBytesFrom(chunk) : chunk);
    if (own) {
      const streaming = nread >= SHARED_BYTES;
      if (kept || !streaming) this.#own = null;
      this.#next = streaming ? this.#ownBuffer() : sharedBuffer();
    } else {
      this.#next = nread === buffer.length ? this.#ownBuffer() : sharedBuffer();
    }
    // Never pauses here: the reader pauses the socket, which stops reads at once.
    return true;
  }

  /** Where the next read goes; Node asks at connect and after every read. */
  #nextBuffer(): Buffer {
    return this.#next;
  }

  #ownBuffer(): Buffer {
    this.#own ??= Buffer.allocUnsafe(OWN_BYTES);
    return this.#own;
  }
}

/**
 * An accepted client socket moved onto one that reads in place, so uploads
 * get what downloads have. net.Server has no `onread` option: the listener
 * accepts paused (`pauseOnConnect`, nothing read yet), and the connection's
 * handle moves to a new socket made with `onread` — the way Node itself
 * hands a handle to a socket (child_process, cluster). Returns `accepted`
 * unchanged when it has no handle to give (closed meanwhile).
 */
export function readInPlace(accepted: Socket): Socket {
  const internal = accepted as Socket & { _handle: object | null };
  const handle = internal._handle;
  if (handle === null || accepted.destroyed) return accepted;
  internal._handle = null;
  // Without a handle this only settles the server's connection count.
  accepted.destroy();
  const reads = new InPlaceReads();
  const socket = new Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: reads.onread,
  } as SocketConstructorOpts);
  reads.adopt(socket);
  return socket;
}

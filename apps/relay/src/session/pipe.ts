import type { Socket } from "node:net";
import { InPlaceReads } from "../net/in-place-reads";
import type { QuotaMeter } from "../quota/quota-guard";
import { type ClientCodec, ClientCodecError } from "./client-codec";
import { resetSocket } from "./reset-socket";

export interface TrafficCounters {
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
}

/** Token gate of one direction of one session (a qos/htb Flow). */
export interface FlowGate {
  /** Largest piece worth offering at once. */
  readonly sliceBytes: number;
  /**
   * True: `bytes` are charged and may go now. False: hold them and pause the
   * source; `onGrant` runs once they may go (never, if the gate is closed).
   */
  offer(bytes: number, onGrant: () => void): boolean;
}

/** Bandwidth shaping of one session; a null gate means that direction is not shaped. */
export interface Shaping {
  /** Client → destination. */
  readonly up: FlowGate | null;
  /** Destination → client. */
  readonly down: FlowGate | null;
  /** `onChange` runs after a policy change replaced `up` or `down`. */
  watch(onChange: () => void): void;
  /** The session ended: leave the shaper. */
  release(): void;
}

export interface PipeOptions {
  /** Both directions silent for this long closes the session. */
  idleTimeoutMs: number;
  /** The client already sent its FIN (during the handshake): pass it on now. */
  clientEnded?: boolean;
  /** Bandwidth shaping; absent: never shaped. */
  shaping?: Shaping | undefined;
  /** Traffic quota of the session's user and groups; absent: no quota (no per-chunk check). */
  quota?: QuotaMeter | undefined;
  /**
   * RFC 1961 encapsulation of the client's side: frames from the client are
   * unwrapped, what goes to it is wrapped. Counters, quotas and shaping see
   * the payload. Absent: bytes pass as they are.
   */
  clientCodec?: ClientCodec | undefined;
  /** Called once, after both sockets have closed. */
  onClose: (reason: string) => void;
}

export interface Pipe {
  /** Tears both sides down now; `reason` becomes the session's close reason. */
  destroy(reason: string): void;
  /** destroy(), but with an RST: data queued for either peer is discarded (terminate, revoke). */
  reset(reason: string): void;
}

/**
 * One direction: source → sink. Unshaped, a chunk is written as it comes
 * (the fast path: one null check of shaping work). Shaped, each slice of a
 * chunk is offered to the gate; a refused slice keeps the rest of that one
 * chunk here and pauses the source until the grant, so at most one read
 * (≤ the source's highWaterMark) waits per direction and nothing else queues.
 *
 * Listeners are methods bound in the constructor, not arrow-function fields
 * or named closures: tsx compiles with esbuild's keepNames, which gives every
 * named arrow a defineProperty call as it is created (a few hundred ns each,
 * per session); bind() costs a few ns.
 */
class Lane {
  #held: Buffer | null = null;
  /** Bytes at the head of #held that the gate is asked for. */
  #asked = 0;
  #heldGate: FlowGate | null = null;
  #draining = false;
  #paused = false;
  #endPending = false;
  readonly #grant = this.#onGrant.bind(this);
  /** The client's codec (decodes in the up lane, encodes in the down lane); null: plain bytes. */
  readonly #codec: ClientCodec | null;

  constructor(
    private readonly pipe: BothWays,
    private readonly source: Socket,
    private readonly sink: Socket,
    /** Client → destination; false: destination → client. */
    private readonly up: boolean,
  ) {
    this.#codec = pipe.options.clientCodec ?? null;
    // Reads in place where the socket allows it (upstream connections); 'data'
    // still carries whatever arrived before this lane took over.
    InPlaceReads.setReader(source, this.#onReadInPlace.bind(this));
    source.on("data", this.#onData.bind(this));
    source.on("end", this.#onEnd.bind(this));
    source.on("error", this.#onError.bind(this));
    source.setTimeout(pipe.options.idleTimeoutMs, this.#onIdle.bind(this));
    source.once("close", this.#onClose.bind(this));
    sink.on("drain", this.#onDrain.bind(this));
  }

  #onData(chunk: Buffer): void {
    if (this.#codec !== null) {
      this.#onCodedData(chunk);
      return;
    }
    if (this.#account(chunk)) this.#forward(chunk);
  }

  /** An encapsulated session: the payload is counted and charged, frames cross the wire. */
  #onCodedData(bytes: Buffer): void {
    const codec = this.#codec!;
    let out: Buffer;
    try {
      if (this.up) {
        out = codec.decode(bytes);
        if (out.length === 0 || !this.#account(out)) return;
      } else {
        if (!this.#account(bytes)) return;
        out = codec.encode(bytes);
      }
    } catch (error) {
      if (!(error instanceof ClientCodecError)) throw error;
      this.pipe.destroy(error.closeReason);
      return;
    }
    this.#forward(out);
  }

  /** Counts a chunk of payload and charges its quota; false when the quota ended the session. */
  #account(chunk: Buffer): boolean {
    const quota = this.pipe.options.quota;
    if (quota !== undefined && !quota.charge(this.up, chunk.length)) {
      this.pipe.destroy("quota");
      return false;
    }
    const counters = this.pipe.counters;
    if (this.up) {
      counters.bytesUp += chunk.length;
      counters.packetsUp += 1;
    } else {
      counters.bytesDown += chunk.length;
      counters.packetsDown += 1;
    }
    return true;
  }

  /** Passes a chunk on: written now, or held for the gate. */
  #forward(chunk: Buffer): void {
    if (this.#held !== null) {
      // Paused streams emit no more data; kept anyway so no byte is ever dropped.
      this.#held = Buffer.concat([this.#held, chunk]);
      return;
    }
    const gate = this.#gate();
    if (gate === null) {
      if (!this.sink.write(chunk)) this.#waitForDrain();
      return;
    }
    this.#held = chunk;
    this.#pump(gate);
  }

  /** A read into a reused buffer: true when `chunk` is still referenced after this call. */
  #onReadInPlace(chunk: Buffer): boolean {
    // The codec's output is its own memory: nothing keeps `chunk`.
    if (this.#codec !== null) {
      this.#onData(chunk);
      return false;
    }
    // Held bytes (for the gate, or behind such) outlive this read: they get a copy.
    if (this.#held !== null || this.#gate() !== null) {
      this.#onData(Buffer.copyBytesFrom(chunk));
      return false;
    }
    this.#onData(chunk);
    // Whatever the socket did not take at once still points into `chunk`.
    return this.sink.writableLength > 0;
  }

  #onDrain(): void {
    this.#draining = false;
    if (this.#held === null) this.#resume();
  }

  /** The source sent its FIN: pass it on once nothing is held back. */
  #onEnd(): void {
    // A FIN in the middle of a frame: the client's last bytes were never delivered.
    if (this.up && this.#codec !== null && this.#codec.pendingBytes > 0)
      this.pipe.settle("gssapi_truncated_frame");
    this.pipe.settle(this.up ? "client_closed" : "upstream_closed");
    if (this.#held !== null) this.#endPending = true;
    else this.sink.end();
  }

  #onError(error: NodeJS.ErrnoException): void {
    this.pipe.destroy(`${this.up ? "client" : "upstream"}_error:${error.code ?? "EUNKNOWN"}`);
  }

  #onIdle(): void {
    this.pipe.destroy("idle_timeout");
  }

  #onClose(): void {
    this.pipe.socketClosed();
  }

  #gate(): FlowGate | null {
    const throttle = this.pipe.options.quota?.throttle;
    if (throttle) return throttle;
    const shaping = this.pipe.options.shaping;
    if (shaping === undefined) return null;
    return this.up ? shaping.up : shaping.down;
  }

  /** A policy change swapped the gate: re-offer what waits on the old one. */
  regate(): void {
    if (this.#held === null) return;
    const gate = this.#gate();
    if (gate === this.#heldGate) return;
    this.#heldGate = null;
    if (gate === null) {
      this.#write(this.#held);
      this.#held = null;
      this.#afterHeld();
    } else this.#pump(gate);
  }

  #onGrant(): void {
    const held = this.#held;
    if (held === null) return;
    this.#heldGate = null;
    this.#write(held.subarray(0, this.#asked));
    this.#held = held.length > this.#asked ? held.subarray(this.#asked) : null;
    if (this.#held === null) this.#afterHeld();
    else {
      const gate = this.#gate();
      if (gate === null) {
        this.#write(this.#held);
        this.#held = null;
        this.#afterHeld();
      } else this.#pump(gate);
    }
  }

  #pump(gate: FlowGate): void {
    let rest = this.#held!;
    while (rest.length > 0) {
      const size = Math.min(rest.length, gate.sliceBytes);
      if (!gate.offer(size, this.#grant)) {
        this.#held = rest;
        this.#asked = size;
        this.#heldGate = gate;
        this.#pause();
        return;
      }
      this.#write(size === rest.length ? rest : rest.subarray(0, size));
      rest = rest.subarray(size);
    }
    this.#held = null;
    this.#afterHeld();
  }

  #afterHeld(): void {
    if (this.#endPending) {
      this.#endPending = false;
      this.sink.end();
    }
    if (this.#draining) this.#pause();
    else this.#resume();
  }

  #write(bytes: Buffer): void {
    if (this.sink.destroyed || this.sink.writableEnded) return;
    if (!this.sink.write(bytes)) this.#draining = true;
  }

  #waitForDrain(): void {
    this.#draining = true;
    this.#pause();
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.source.pause();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.source.resume();
  }
}

/** Both lanes of one session and how it ends. */
class BothWays implements Pipe {
  #reason: string | undefined;
  #closed = 0;
  readonly #up: Lane;
  readonly #down: Lane;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    readonly counters: TrafficCounters,
    readonly options: PipeOptions,
  ) {
    this.#up = new Lane(this, client, upstream, true);
    this.#down = new Lane(this, upstream, client, false);
    options.shaping?.watch(this.#regate.bind(this));
    options.quota?.watch(this.#regate.bind(this));
    if (options.clientEnded) {
      this.settle("client_closed");
      upstream.end();
    }
    client.resume();
    // A pooled upstream connection arrives paused.
    upstream.resume();
  }

  /** The first reason given is the session's close reason. */
  settle(why: string): void {
    this.#reason ??= why;
  }

  destroy(why: string): void {
    this.settle(why);
    this.client.destroy();
    this.upstream.destroy();
  }

  reset(why: string): void {
    this.settle(why);
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  socketClosed(): void {
    this.#closed += 1;
    if (this.#closed === 1) this.options.shaping?.release();
    if (this.#closed === 2) this.options.onClose(this.#reason ?? "closed");
  }

  #regate(): void {
    this.#up.regate();
    this.#down.regate();
  }
}

/**
 * Relays bytes both ways with backpressure (a full destination pauses its
 * source; nothing is queued beyond the sockets' own high-water marks) and
 * relays half-close: a FIN from one side becomes end() on the other, whose
 * remaining data still flows back until it ends too. With `shaping`, a
 * direction out of tokens pauses its source the same way.
 */
export function pipeBothWays(
  client: Socket,
  upstream: Socket,
  counters: TrafficCounters,
  options: PipeOptions,
): Pipe {
  return new BothWays(client, upstream, counters, options);
}

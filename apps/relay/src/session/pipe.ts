import type { Socket } from "node:net";

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
  /** Called once, after both sockets have closed. */
  onClose: (reason: string) => void;
}

export interface Pipe {
  /** Tears both sides down now; `reason` becomes the session's close reason. */
  destroy(reason: string): void;
}

/**
 * One direction: source → sink. Unshaped, a chunk is written as it comes
 * (the fast path: one null check of shaping work). Shaped, each slice of a
 * chunk is offered to the gate; a refused slice keeps the rest of that one
 * chunk here and pauses the source until the grant, so at most one read
 * (≤ the source's highWaterMark) waits per direction and nothing else queues.
 */
class Lane {
  #held: Buffer | null = null;
  /** Bytes at the head of #held that the gate is asked for. */
  #asked = 0;
  #heldGate: FlowGate | null = null;
  #draining = false;
  #paused = false;
  #endPending = false;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly gate: () => FlowGate | null,
    private readonly count: (bytes: number) => void,
  ) {}

  onData = (chunk: Buffer): void => {
    this.count(chunk.length);
    if (this.#held !== null) {
      // Paused streams emit no more data; kept anyway so no byte is ever dropped.
      this.#held = Buffer.concat([this.#held, chunk]);
      return;
    }
    const gate = this.gate();
    if (gate === null) {
      if (!this.sink.write(chunk)) this.#waitForDrain();
      return;
    }
    this.#held = chunk;
    this.#pump(gate);
  };

  onDrain = (): void => {
    this.#draining = false;
    if (this.#held === null) this.#resume();
  };

  /** The source sent its FIN: pass it on once nothing is held back. */
  onEnd = (): void => {
    if (this.#held !== null) this.#endPending = true;
    else this.sink.end();
  };

  /** A policy change swapped the gate: re-offer what waits on the old one. */
  regate(): void {
    if (this.#held === null) return;
    const gate = this.gate();
    if (gate === this.#heldGate) return;
    this.#heldGate = null;
    if (gate === null) {
      this.#write(this.#held);
      this.#held = null;
      this.#afterHeld();
    } else this.#pump(gate);
  }

  #onGrant = (): void => {
    const held = this.#held;
    if (held === null) return;
    this.#heldGate = null;
    this.#write(held.subarray(0, this.#asked));
    this.#held = held.length > this.#asked ? held.subarray(this.#asked) : null;
    if (this.#held === null) this.#afterHeld();
    else {
      const gate = this.gate();
      if (gate === null) {
        this.#write(this.#held);
        this.#held = null;
        this.#afterHeld();
      } else this.#pump(gate);
    }
  };

  #pump(gate: FlowGate): void {
    let rest = this.#held!;
    while (rest.length > 0) {
      const size = Math.min(rest.length, gate.sliceBytes);
      if (!gate.offer(size, this.#onGrant)) {
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
  const shaping = options.shaping;
  let reason: string | undefined;
  let closed = 0;
  const settle = (why: string) => {
    reason ??= why;
  };
  const onSocketClose = () => {
    closed += 1;
    if (closed === 1) shaping?.release();
    if (closed === 2) options.onClose(reason ?? "closed");
  };
  const destroy = (why: string) => {
    settle(why);
    client.destroy();
    upstream.destroy();
  };

  const up = new Lane(client, upstream, shaping ? () => shaping.up : () => null, (bytes) => {
    counters.bytesUp += bytes;
    counters.packetsUp += 1;
  });
  const down = new Lane(upstream, client, shaping ? () => shaping.down : () => null, (bytes) => {
    counters.bytesDown += bytes;
    counters.packetsDown += 1;
  });
  shaping?.watch(() => {
    up.regate();
    down.regate();
  });
  client.on("data", up.onData);
  upstream.on("data", down.onData);
  upstream.on("drain", up.onDrain);
  client.on("drain", down.onDrain);

  client.on("end", () => {
    settle("client_closed");
    up.onEnd();
  });
  upstream.on("end", () => {
    settle("upstream_closed");
    down.onEnd();
  });
  client.on("error", (error: NodeJS.ErrnoException) =>
    destroy(`client_error:${error.code ?? "EUNKNOWN"}`),
  );
  upstream.on("error", (error: NodeJS.ErrnoException) =>
    destroy(`upstream_error:${error.code ?? "EUNKNOWN"}`),
  );
  client.setTimeout(options.idleTimeoutMs, () => destroy("idle_timeout"));
  upstream.setTimeout(options.idleTimeoutMs, () => destroy("idle_timeout"));
  client.once("close", onSocketClose);
  upstream.once("close", onSocketClose);
  if (options.clientEnded) {
    settle("client_closed");
    upstream.end();
  }
  client.resume();
  // A pooled upstream connection arrives paused.
  upstream.resume();
  return { destroy };
}

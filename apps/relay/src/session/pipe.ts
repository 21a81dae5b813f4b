import type { Socket } from "node:net";

export interface TrafficCounters {
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
}

export interface PipeOptions {
  /** Both directions silent for this long closes the session. */
  idleTimeoutMs: number;
  /** The client already sent its FIN (during the handshake): pass it on now. */
  clientEnded?: boolean;
  /** Called once, after both sockets have closed. */
  onClose: (reason: string) => void;
}

export interface Pipe {
  /** Tears both sides down now; `reason` becomes the session's close reason. */
  destroy(reason: string): void;
}

/**
 * Relays bytes both ways with backpressure (a full destination pauses its
 * source; nothing is queued beyond the sockets' own high-water marks) and
 * relays half-close: a FIN from one side becomes end() on the other, whose
 * remaining data still flows back until it ends too.
 */
export function pipeBothWays(
  client: Socket,
  upstream: Socket,
  counters: TrafficCounters,
  options: PipeOptions,
): Pipe {
  let reason: string | undefined;
  let closed = 0;
  const settle = (why: string) => {
    reason ??= why;
  };
  const onSocketClose = () => {
    closed += 1;
    if (closed === 2) options.onClose(reason ?? "closed");
  };
  const destroy = (why: string) => {
    settle(why);
    client.destroy();
    upstream.destroy();
  };

  client.on("data", (chunk: Buffer) => {
    counters.bytesUp += chunk.length;
    counters.packetsUp += 1;
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on("data", (chunk: Buffer) => {
    counters.bytesDown += chunk.length;
    counters.packetsDown += 1;
    if (!client.write(chunk)) upstream.pause();
  });
  upstream.on("drain", () => client.resume());
  client.on("drain", () => upstream.resume());

  client.on("end", () => {
    settle("client_closed");
    upstream.end();
  });
  upstream.on("end", () => {
    settle("upstream_closed");
    client.end();
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
  return { destroy };
}

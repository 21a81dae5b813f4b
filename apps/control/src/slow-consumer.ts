export interface SlowConsumerOptions {
  /** A send buffer this large closes the connection at once, in bytes. @default 16777216 (16 MiB) */
  maxBufferedBytes?: number;
  /** Above this, a buffer that grows at every check is a slow consumer, in bytes. @default 1048576 */
  growingBufferedBytes?: number;
  /** Consecutive growing checks before the connection is closed. @default 5 */
  growingChecks?: number;
  /** How often buffers are checked, in ms. @default 1000 */
  checkIntervalMs?: number;
}

/** What the watchdog needs of a WebSocket (ws's WebSocket has it). */
export interface BufferedSocket {
  readonly bufferedAmount: number;
  terminate(): void;
}

/**
 * Closes WebSocket connections whose send buffer keeps growing (a subscriber that stopped
 * reading), instead of buffering pushes for it forever. Returns a function that stops it.
 */
export function watchSlowConsumers(
  clients: () => Iterable<BufferedSocket>,
  onClose: (socket: BufferedSocket, bufferedBytes: number) => void,
  options: SlowConsumerOptions = {},
): () => void {
  const maxBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  const growingBytes = options.growingBufferedBytes ?? 1024 * 1024;
  const growingChecks = options.growingChecks ?? 5;
  const state = new WeakMap<BufferedSocket, { last: number; growing: number }>();
  const check = () => {
    for (const socket of clients()) {
      const buffered = socket.bufferedAmount;
      const seen = state.get(socket) ?? { last: 0, growing: 0 };
      seen.growing = buffered > growingBytes && buffered > seen.last ? seen.growing + 1 : 0;
      seen.last = buffered;
      state.set(socket, seen);
      if (buffered >= maxBytes || seen.growing >= growingChecks) {
        onClose(socket, buffered);
        socket.terminate();
      }
    }
  };
  const timer = setInterval(check, options.checkIntervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}

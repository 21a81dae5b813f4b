import type { Socket } from "node:net";

/**
 * Ends `socket` at once with an RST, discarding what the kernel still has
 * queued for the peer: a plain destroy() closes gracefully, and a slow reader
 * would keep receiving that queue for minutes after a terminate.
 *
 * Falls back to destroy() where libuv cannot reset: a TLS socket (no TCP
 * handle of its own), and a socket whose end() is still being carried out
 * (uv_tcp_close_reset() refuses while a shutdown is pending, and Node then
 * never closes the handle).
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (shutdownPending(socket)) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // ERR_INVALID_HANDLE_TYPE: not a TCP handle (TLS); thrown before anything changed.
    socket.destroy();
  }
}

/**
 * Node issues the shutdown (its `_final`) only once every queued write has
 * reached libuv; until then, end() leaves the socket resettable. Where the
 * stream state does not say, any end() not yet finished counts as pending.
 */
function shutdownPending(socket: Socket): boolean {
  if (!socket.writableEnded || socket.writableFinished) return false;
  const state = (socket as unknown as { _writableState?: { finalCalled?: boolean } })
    ._writableState;
  return state?.finalCalled ?? true;
}

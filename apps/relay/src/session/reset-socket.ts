import type { Socket } from "node:net";

/**
 * Ends `socket` at once with an RST, discarding what the kernel still has
 * queued for the peer: a plain destroy() closes gracefully, and a slow reader
 * would keep receiving that queue for minutes after a terminate. A TLS socket
 * has no TCP handle of its own to reset, so it is destroyed.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    // ERR_INVALID_HANDLE_TYPE: not a TCP handle (TLS); thrown before anything changed.
    socket.destroy();
  }
}

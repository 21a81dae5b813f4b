import { randomBytes } from "node:crypto";
import type { Server as TlsServer } from "node:tls";

/** Node's `ticketKeys` layout: key name, HMAC secret, AES key, 16 bytes each. */
export const TICKET_KEYS_BYTES = 48;

/** What Node's ticket-key callback answers: [result, hmac, aes] or, encrypting, [..., name, iv]. */
type TicketKeyAnswer = [0] | [1 | 2, Buffer, Buffer] | [1, Buffer, Buffer, Buffer, Buffer];

interface TicketKeyContext {
  enableTicketKeyCallback(): void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => TicketKeyAnswer;
}

/**
 * A Node.js TLS server sends two session tickets after a full handshake and none after a resumed
 * TLS 1.3 one, so a client that uses each ticket once (RFC 8446 C.4 recommends it; OpenSSL's
 * client drops a session closed without close_notify) resumes only every other connection.
 * Answering "valid, renew" (2) when a ticket is decrypted makes OpenSSL send a fresh ticket on
 * every resumed connection, as haproxy and nginx do. The hook is the secure context's
 * ticket-key callback, which Node has but does not document (its own tests use it): when it is
 * missing this returns false and the server keeps Node's behaviour. Call it again after
 * `setSecureContext`, which replaces the context.
 */
export function renewTicketsOnResume(server: TlsServer, keys: Buffer): boolean {
  if (keys.length !== TICKET_KEYS_BYTES) throw new Error("ticket keys must be 48 bytes");
  const context = (server as unknown as { _sharedCreds?: { context?: Partial<TicketKeyContext> } })
    ._sharedCreds?.context;
  if (typeof context?.enableTicketKeyCallback !== "function") return false;
  const name = keys.subarray(0, 16);
  const hmac = keys.subarray(16, 32);
  const aes = keys.subarray(32, 48);
  context.enableTicketKeyCallback();
  context.onticketkeycallback = (ticketName, _iv, encrypt) => {
    if (encrypt) return [1, hmac, aes, name, randomBytes(16)];
    // A ticket under other keys (an earlier run's): a full handshake, as without the callback.
    return ticketName.equals(name) ? [2, hmac, aes] : [0];
  };
  return true;
}

import { SESSION_RECORD_TEXT_MAX } from "@edgesocks/api/wire";

/** What every session becomes when it ends (DESIGN.md "Session records"). */
export interface SessionRecord {
  id: string;
  node: string | null;
  region: string | null;
  user: string;
  clientAddress: string;
  clientPort: number;
  protocol: "socks4" | "socks4a" | "socks5" | null;
  transport: "tcp" | "tls";
  /** null when the connection never got as far as a valid request. */
  command: "connect" | "bind" | "udp" | null;
  destinationHost: string | null;
  destinationAddress: string | null;
  destinationPort: number | null;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  bytesUp: number;
  bytesDown: number;
  /** For TCP, read/write chunks; for UDP, datagrams. */
  packetsUp: number;
  packetsDown: number;
  status: "closed" | "failed" | "rejected";
  decision: "allow" | "block" | null;
  ruleId: string | null;
  closeReason: string;
}

export type SessionStatus = SessionRecord["status"];

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `value` as text the control plane accepts: control characters become U+FFFD, cut to `max`. */
function validText(value: string, max: number): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  return cut.toWellFormed().replace(CONTROL, "\ufffd");
}

/**
 * The record with every text field well-formed, free of control characters and within the wire
 * schema's bounds: the control plane refuses a whole batch over one bad field, and the shipper
 * retries a refused batch forever, so a TLS client certificate's CN or a resolver's message
 * must never reach the spool as it came.
 */
export function withValidText(record: SessionRecord): SessionRecord {
  const m = SESSION_RECORD_TEXT_MAX;
  const nullable = (value: string | null, max: number) =>
    value === null ? null : validText(value, max);
  return {
    ...record,
    node: nullable(record.node, m.node),
    region: nullable(record.region, m.region),
    user: validText(record.user, m.user),
    clientAddress: validText(record.clientAddress, m.clientAddress),
    destinationHost: nullable(record.destinationHost, m.destinationHost),
    destinationAddress: nullable(record.destinationAddress, m.destinationAddress),
    ruleId: nullable(record.ruleId, m.ruleId),
    closeReason: validText(record.closeReason, m.closeReason),
  };
}

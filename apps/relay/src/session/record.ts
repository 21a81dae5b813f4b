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

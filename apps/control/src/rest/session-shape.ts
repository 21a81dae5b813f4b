import type { RestSession } from "./schemas";

/** A session as the tRPC API shows it (stored or active); the fields REST answers from. */
export interface SessionFields {
  id: string;
  user: string;
  clientAddress: string;
  clientPort: number;
  destinationHost: string | null;
  destinationAddress: string | null;
  destinationPort: number | null;
  command: "connect" | "bind" | "udp" | null;
  bytesUp: number;
  bytesDown: number;
  startedAt: string;
  node: string | null;
  region: string | null;
  /** Absent for an active session. */
  endedAt?: string;
  durationMs?: number;
  status?: "closed" | "failed" | "rejected";
  decision?: "allow" | "block" | null;
  ruleId?: string | null;
  closeReason?: string;
}

/** RustSocks' SessionResponse fields (plus ours) for one session. */
export function toRestSession(s: SessionFields): RestSession {
  const active = s.status === undefined;
  return {
    id: s.id,
    user: s.user,
    source_ip: s.clientAddress,
    source_port: s.clientPort,
    dest_ip: s.destinationHost ?? s.destinationAddress,
    dest_port: s.destinationPort,
    protocol: s.command === "udp" ? "udp" : "tcp",
    status: active
      ? "active"
      : s.status === "rejected" && s.decision === "block"
        ? "rejected_by_acl"
        : s.status!,
    // A session still open was let through.
    acl_decision: active ? "allow" : (s.decision ?? "none"),
    acl_rule: s.ruleId ?? null,
    bytes_sent: s.bytesUp,
    bytes_received: s.bytesDown,
    start_time: s.startedAt,
    end_time: s.endedAt ?? null,
    duration_seconds: s.durationMs === undefined ? null : Math.floor(s.durationMs / 1000),
    node: s.node,
    region: s.region,
    dest_address: s.destinationAddress,
    command: s.command,
    close_reason: s.closeReason ?? null,
  };
}

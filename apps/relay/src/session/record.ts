import { SESSION_RECORD_TEXT_MAX, SessionRecord, sessionId } from "@edgesocks/api/wire";

/**
 * What every session becomes when it ends (DESIGN.md "Session records"): the
 * wire schema's type, so the relay and ingest cannot drift apart.
 */
export { SessionRecord };
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
    ...(record.route != null ? { route: validText(record.route, m.route) } : {}),
  };
}

export type CheckedRecord =
  | { ok: true; record: SessionRecord }
  | { ok: false; error: string; record: unknown };

/**
 * The last check before the spool: text made valid (withValidText: a `terminated by <long
 * admin name>` close reason is cut, not refused), then the whole record against the wire
 * schema. What still fails is refused here, named, rather than shipped and refused forever.
 */
export function checkRecord(record: SessionRecord): CheckedRecord {
  const parsed = SessionRecord.safeParse(withValidText(record));
  if (parsed.success) return { ok: true, record: parsed.data };
  const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  return { ok: false, error: issues.slice(0, 1000), record };
}

/** The record of a connection turned away before it sent a SOCKS request. */
export function rejectedRecord(options: {
  reason: string;
  clientAddress: string;
  clientPort: number;
  transport: "tcp" | "tls";
  node: { name: string | null; region: string | null };
  user?: string;
  atMs?: number;
}): SessionRecord {
  const atMs = options.atMs ?? Date.now();
  const at = new Date(atMs).toISOString();
  return {
    id: sessionId(atMs),
    node: options.node.name,
    region: options.node.region,
    user: options.user ?? "",
    clientAddress: options.clientAddress,
    clientPort: options.clientPort,
    protocol: null,
    transport: options.transport,
    command: null,
    destinationHost: null,
    destinationAddress: null,
    destinationPort: null,
    startedAt: at,
    endedAt: at,
    durationMs: 0,
    bytesUp: 0,
    bytesDown: 0,
    packetsUp: 0,
    packetsDown: 0,
    status: "rejected",
    decision: null,
    ruleId: null,
    closeReason: options.reason,
  };
}

/** The close reason of a session a killed relay had open, recorded by the next start. */
export const INTERRUPTED = "interrupted";

/** An open session as the relay describes it (`/sessions/active`, any worker thread). */
export interface OpenSessionView {
  id: string;
  user: string;
  clientAddress: string;
  clientPort: number;
  protocol: SessionRecord["protocol"];
  transport: SessionRecord["transport"];
  command: SessionRecord["command"];
  destinationHost: string | null;
  destinationAddress: string | null;
  destinationPort: number | null;
  /** ISO 8601. */
  startedAt: string;
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
  decision: SessionRecord["decision"];
  ruleId: string | null;
}

/** The record an open session leaves if the relay dies now: its bytes so far, status failed. */
export function interruptedRecord(
  session: OpenSessionView,
  node: { name: string | null; region: string | null },
  endedAtMs: number,
): SessionRecord {
  return {
    id: session.id,
    node: node.name,
    region: node.region,
    user: session.user,
    clientAddress: session.clientAddress,
    clientPort: session.clientPort,
    protocol: session.protocol,
    transport: session.transport,
    command: session.command,
    destinationHost: session.destinationHost,
    destinationAddress: session.destinationAddress,
    destinationPort: session.destinationPort,
    startedAt: session.startedAt,
    endedAt: new Date(endedAtMs).toISOString(),
    durationMs: Math.max(0, endedAtMs - Date.parse(session.startedAt)),
    bytesUp: session.bytesUp,
    bytesDown: session.bytesDown,
    packetsUp: session.packetsUp,
    packetsDown: session.packetsDown,
    status: session.command === null ? "rejected" : "failed",
    decision: session.decision,
    ruleId: session.ruleId,
    closeReason: INTERRUPTED,
  };
}

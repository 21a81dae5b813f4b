/** Config status of a node, as `istioctl proxy-status` shows it. */
export const CONFIG_STATUSES = ["SYNCED", "STALE", "NOT SENT", "ERROR"] as const;
export type ConfigStatus = (typeof CONFIG_STATUSES)[number];

export interface NodeSyncFields {
  sentVersion: number | null;
  sentEpoch: string | null;
  appliedVersion: number | null;
  appliedEpoch: string | null;
  rejectedVersion: number | null;
  rejectedEpoch: string | null;
  rejectionReason: string | null;
  /** What the relay lacks to run its auth method (it refuses every login meanwhile). */
  authProblem?: string | null;
}

/**
 * SYNCED: the node applied the newest version. ERROR: the node rejected the last version it was
 * sent (with the reason). STALE: the newest version was sent, no answer yet. NOT SENT: the node
 * has not been sent the newest version (not connected, or never subscribed). A node that cannot
 * run the auth method its snapshot gives it is ERROR too, whatever version it holds: it refuses
 * every login until a snapshot gives it a method it can run.
 */
export function configStatus(
  node: NodeSyncFields,
  newest: { version: number; epoch: string } | null,
): { status: ConfigStatus; reason: string | null } {
  if (node.authProblem) {
    return { status: "ERROR", reason: `authentication unavailable: ${node.authProblem}` };
  }
  if (newest === null) return { status: "NOT SENT", reason: null };
  if (node.appliedVersion === newest.version && node.appliedEpoch === newest.epoch) {
    return { status: "SYNCED", reason: null };
  }
  if (
    node.rejectedVersion !== null &&
    node.rejectedVersion === node.sentVersion &&
    node.rejectedEpoch === node.sentEpoch
  ) {
    return { status: "ERROR", reason: node.rejectionReason };
  }
  if (node.sentVersion === newest.version && node.sentEpoch === newest.epoch) {
    return { status: "STALE", reason: null };
  }
  return { status: "NOT SENT", reason: null };
}

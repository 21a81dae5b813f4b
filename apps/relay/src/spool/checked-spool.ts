import type { Logger } from "@edgesocks/telemetry";
import type { RelayMetrics } from "../metrics";
import { checkRecord, type SessionRecord } from "../session/record";
import type { Quarantine } from "./quarantine";
import type { Spool } from "./spool";

/** Where finished records go: checked against the wire schema, then spooled. */
export interface CheckedSpool {
  append(record: SessionRecord): void;
}

/**
 * Clamps each record to the wire schema before it reaches the spool, so ingest never refuses
 * a batch over one over-long field; a record that still fails the schema is quarantined, named
 * and counted, never spooled.
 */
export function spoolSink(parts: {
  spool: Spool<SessionRecord>;
  quarantine: Quarantine;
  metrics: RelayMetrics;
  logger: Logger;
}): CheckedSpool {
  const { spool, quarantine, metrics, logger } = parts;
  return {
    append(record) {
      const checked = checkRecord(record);
      if (checked.ok) return spool.append(checked.record);
      quarantine.add(`invalid: ${checked.error}`, [{ record: checked.record }]);
      metrics.recordsQuarantined.inc({ reason: "invalid" });
      logger.error(
        { session: record.id, error: checked.error, quarantine: quarantine.path },
        "session record fails the wire schema; quarantined",
      );
    },
  };
}

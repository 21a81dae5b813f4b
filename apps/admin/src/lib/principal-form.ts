import { Name } from "@edgesocks/api/inputs";
import type { QosOverride } from "./api-types";
import { parseByteSize } from "./session-filters";

/** Per-user or per-group bandwidth override fields as typed (byte sizes per second). */
export interface QosDraft {
  guaranteed: string;
  max: string;
  burst: string;
}

export function qosDraft(qos: QosOverride | undefined): QosDraft {
  const text = (value: number | null | undefined) => (value == null ? "" : String(value));
  return {
    guaranteed: text(qos?.guaranteedBytesPerSec),
    max: text(qos?.maxBytesPerSec),
    burst: text(qos?.burstBytes),
  };
}

export type QosErrors = Partial<Record<keyof QosDraft, string>>;

/** Empty fields inherit (null); the others are byte sizes. */
export function parseQosDraft(
  draft: QosDraft,
): { ok: true; qos: QosOverride } | { ok: false; errors: QosErrors } {
  const errors: QosErrors = {};
  const read = (key: keyof QosDraft, min: number): number | null => {
    const text = draft[key].trim();
    if (text === "") return null;
    const value = parseByteSize(text);
    if (value === null) errors[key] = `"${text}" is not a size (like 512k or 10M)`;
    else if (value < min) errors[key] = `must be at least ${min}`;
    return value;
  };
  const qos = {
    guaranteedBytesPerSec: read("guaranteed", 0),
    maxBytesPerSec: read("max", 1),
    burstBytes: read("burst", 1),
  };
  if (
    qos.guaranteedBytesPerSec !== null &&
    qos.maxBytesPerSec !== null &&
    errors.guaranteed === undefined &&
    errors.max === undefined &&
    qos.guaranteedBytesPerSec > qos.maxBytesPerSec
  ) {
    errors.guaranteed = "must not exceed the maximum";
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, qos };
}

/** A name of a user or group, checked with the API's own schema (Name). */
export function nameError(text: string, what: string): string | null {
  if (text.trim() === "") return `${what} is required`;
  const parsed = Name.safeParse(text);
  return parsed.success ? null : `${what}: ${parsed.error.issues[0]!.message}`;
}

/** A connection limit: empty (no limit) or a whole number ≥ 0. */
export function limitError(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  return /^[0-9]+$/.test(trimmed) && Number(trimmed) <= 10_000_000
    ? null
    : "a whole number of connections, or empty for no limit";
}

export function parseLimit(text: string): number | null {
  const trimmed = text.trim();
  return trimmed === "" ? null : Number(trimmed);
}

import { RuleId } from "@edgesocks/api/inputs";
import { cidrError } from "@edgesocks/policy/validate";

// ACL rule fields are checked with the control plane's own parsers (browser-safe subpath); rule ids
// with the API's own schema.
export {
  destinationError,
  portSpecError,
  scheduleError,
  sourceError,
} from "@edgesocks/policy/validate";

/** Rule priority: an integer in ±1,000,000 (higher is considered first). */
export function priorityError(text: string): string | null {
  const trimmed = text.trim();
  if (!/^-?[0-9]+$/.test(trimmed)) return "priority must be a whole number";
  const value = Number(trimmed);
  if (Math.abs(value) > 1_000_000) return "priority must be between -1000000 and 1000000";
  return null;
}

/** A rule id as the API accepts it; empty means "generate one". */
export function ruleIdError(text: string): string | null {
  if (text === "") return null;
  const parsed = RuleId.safeParse(text);
  return parsed.success
    ? null
    : `${parsed.error.issues[0]!.message}, starting with one of the first two`;
}

/** The history filter's destination: a host, `*.domain`, an IP address or a CIDR. */
export function destinationFilterError(raw: string): string | null {
  const text = raw.trim();
  if (text === "") return null;
  if (text.includes("/") || text.includes(":")) return cidrError(text);
  if (text.startsWith("*.")) {
    return text.slice(2).includes("*") ? `"${text}": only one leading "*." is allowed` : null;
  }
  if (text.includes("*")) return `"${text}" is not a host, *.domain, IP address or CIDR`;
  return null;
}

/** Splits a list field on commas, whitespace and new lines, dropping empty entries. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

import { RuleId } from "@edgesocks/api/inputs";
import { cidrError, isIpv4 } from "./ip";

/**
 * Field validators for ACL rules, mirroring what the control plane compiles (the same messages as
 * @edgesocks/policy where it has one), so an operator sees the problem at the field before saving.
 * Each returns an error message, or null when the value is valid.
 */

const LABEL_CHAR = /^[a-z0-9_*-]$/;

/** One `destinations` entry: `*`, an IP, a CIDR, `example.com`, `*.example.com`, `api.*.com`. */
export function destinationError(raw: string): string | null {
  const pattern = raw.trim();
  if (pattern === "*") return null;
  if (pattern.length === 0) return "destination is empty";
  if (pattern.includes("/") || pattern.includes(":")) return cidrError(pattern);
  let name = pattern.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "*") return null;
  if (name.length === 0) return `"${pattern}" is not a valid destination`;
  if (!name.includes("*") && isIpv4(name)) return null;
  const invalid = (why: string) => `"${pattern}" is not a valid destination: ${why}`;
  if (name.length > 253) return invalid("longer than 253 characters");
  let numeric = true;
  for (const label of name.split(".")) {
    if (label.length === 0) return invalid("empty label");
    if (label.length > 63) return invalid(`label "${label}" is longer than 63 characters`);
    for (const char of label) {
      if (!LABEL_CHAR.test(char)) {
        return invalid(
          char.charCodeAt(0) > 127
            ? "use the ASCII (punycode, xn--) form of an internationalised name"
            : `"${char}" is not allowed in a domain name (letters, digits, "-", "_" and "*" are)`,
        );
      }
      if (char < "0" || char > "9") numeric = false;
    }
  }
  if (numeric) return `"${pattern}" is not a valid IPv4 address`;
  return null;
}

function portError(text: string): boolean {
  return !/^[0-9]{1,5}$/.test(text) || Number(text) > 65535;
}

/** One `ports` entry: `443`, `8000-9000`, `80,443,8080` or `*`. */
export function portSpecError(spec: string): string | null {
  if (spec.trim() === "*") return null;
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    const dash = item.indexOf("-");
    if (dash < 0) {
      if (portError(item)) return `"${item}" is not a port (0-65535)`;
      continue;
    }
    const start = item.slice(0, dash).trim();
    const end = item.slice(dash + 1).trim();
    if (portError(start) || portError(end)) {
      return `"${item}" is not a port range (like "8000-9000")`;
    }
    if (Number(start) > Number(end)) return `"${item}" is a reversed range (start > end)`;
  }
  return null;
}

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

/**
 * `@edgesocks/policy/validate`: field validators for ACL rules, the very parsers the control plane
 * compiles with, so the admin app shows the problem at the field before saving. Browser-safe (no
 * node: imports, unlike the package's entry point): the admin app's bundle-boundary test keeps it so.
 * Each `...Error` returns the error message, or null when the value is valid.
 */
import { ipFamily, parseNetwork } from "@edgesocks/socks/address";
import { parseSource } from "./acl/conditions";
import { COUNTRY_CODES, parseCountryPattern } from "./acl/country";
import { parseDestination } from "./acl/destination";
import { parsePortSpec } from "./acl/ports";
import { parseSchedule, type ScheduleSpec } from "./acl/schedule";

export { COUNTRY_CODES };

/**
 * One `destinations` entry: `*`, an IP, a CIDR, `example.com`, `*.example.com`, `api.*.com`, or
 * `country:XX` (an ISO 3166-1 alpha-2 code).
 */
export function destinationError(raw: string): string | null {
  const parsed = parseDestination(raw.trim());
  return parsed.ok ? null : parsed.error;
}

/** One `ports` entry: `443`, `8000-9000`, `80,443,8080` or `*`. */
export function portSpecError(spec: string): string | null {
  const parsed = parsePortSpec(spec);
  return parsed.ok ? null : parsed.error;
}

/** An error message for an invalid IP literal or CIDR, or null when it is valid. */
export function cidrError(text: string): string | null {
  const parsed = parseNetwork(text);
  return parsed.ok ? null : parsed.error;
}

/** True for an IPv4 or IPv6 literal (no zone id). */
export function isIpAddress(text: string): boolean {
  return ipFamily(text) !== 0;
}

/** `country:XX`: null when XX is an ISO 3166-1 alpha-2 code. */
export function countryPatternError(pattern: string): string | null {
  const parsed = parseCountryPattern(pattern.trim());
  return parsed.ok ? null : parsed.error;
}

/** One `sources` entry: an IP, a CIDR or `country:XX`. */
export function sourceError(raw: string): string | null {
  const parsed = parseSource(raw.trim());
  return parsed.ok ? null : parsed.error;
}

/** A rule's schedule (days, times, timezone): `field: problem`, or null when it is valid. */
export function scheduleError(spec: ScheduleSpec): string | null {
  const parsed = parseSchedule(spec);
  return parsed.ok ? null : `${parsed.field}: ${parsed.error}`;
}

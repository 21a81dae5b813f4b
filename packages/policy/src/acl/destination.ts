import { type IpNetwork, parseNetwork, v4InNetwork, v6InNetwork } from "@edgesocks/socks/address";
import { isCountryPattern, parseCountryPattern } from "./country";

/**
 * One entry of a rule's `destinations`, parsed. RustSocks-compatible forms:
 * - `*`: anything;
 * - IPv4/IPv6 literal or CIDR (IPv4-mapped IPv6 is turned into IPv4);
 * - `example.com`: that name exactly (case-insensitive, trailing dot ignored);
 * - `*.example.com`: any name below example.com, at any depth, not example.com itself;
 * - `api.*.com`, `prod-*.example.com`: each `*` inside the name matches one or more characters
 *   within one label;
 * - `country:DE`: any address the GeoIP database places in that country (ISO 3166-1 alpha-2),
 *   matched on the resolved address only, never on a name.
 */
export type Destination =
  | { readonly kind: "any" }
  | { readonly kind: "ip"; readonly network: IpNetwork }
  | { readonly kind: "country"; readonly code: string }
  | { readonly kind: "domain"; readonly name: string }
  | { readonly kind: "suffix"; readonly suffix: string }
  | {
      readonly kind: "pattern";
      readonly regex: RegExp;
      /** Labels after the last wildcard label ("com" for `api.*.com`); "" when there are none. */
      readonly literalSuffix: string;
      /** Characters before the first `*` ("api." for `api.*.com`): a cheap filter before the regex. */
      readonly literalPrefix: string;
      /** How many labels a matching name has; with a leading `*.`, the least it can have. */
      readonly labels: number;
      /** True with a leading `*.`, which stands for one or more labels. */
      readonly anyDepth: boolean;
    };

export type DestinationResult =
  | { ok: true; destination: Destination }
  | { ok: false; error: string };

const ANY: Destination = Object.freeze({ kind: "any" });

/** Lowercases a name and drops one trailing dot: how names are compared. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.charCodeAt(lower.length - 1) === 46 ? lower.slice(0, -1) : lower;
}

function isLabelChar(code: number, wildcardAllowed: boolean): boolean {
  return (
    (code >= 97 && code <= 122) || // a-z
    (code >= 48 && code <= 57) || // 0-9
    code === 45 || // -
    code === 95 || // _
    (wildcardAllowed && code === 42) // *
  );
}

function labelRegex(label: string): string {
  // Runs of "*" collapse; every other allowed character is literal and needs no escaping.
  return label.replace(/\*+/g, "[^.]+");
}

function parseName(pattern: string, name: string): DestinationResult {
  const invalid = (why: string): DestinationResult => ({
    ok: false,
    error: `"${pattern}" is not a valid destination: ${why}`,
  });
  if (name.length > 253) return invalid("longer than 253 characters");
  const labels = name.split(".");
  let wildcards = 0;
  let numeric = true;
  for (const label of labels) {
    if (label.length === 0) return invalid("empty label");
    if (label.length > 63) return invalid(`label "${label}" is longer than 63 characters`);
    for (let i = 0; i < label.length; i++) {
      const code = label.charCodeAt(i);
      if (!isLabelChar(code, true)) {
        return invalid(
          code > 127
            ? "use the ASCII (punycode, xn--) form of an internationalised name"
            : `"${label[i]}" is not allowed in a domain name (letters, digits, "-", "_" and "*" are)`,
        );
      }
      if (code === 42) wildcards++;
      if (code < 48 || code > 57) numeric = false;
    }
  }
  if (numeric) return { ok: false, error: `"${pattern}" is not a valid IPv4 address` };
  if (wildcards === 0) return { ok: true, destination: { kind: "domain", name } };
  if (labels[0] === "*" && wildcards === 1) {
    return { ok: true, destination: { kind: "suffix", suffix: labels.slice(1).join(".") } };
  }
  let lastWild = 0;
  labels.forEach((label, i) => {
    if (label.includes("*")) lastWild = i;
  });
  const body = labels.map((label, i) => (i === 0 && label === "*" ? "" : labelRegex(label)));
  // A leading "*." stands for one or more labels, as in `*.example.com`.
  const source = labels[0] === "*" ? `(?:[^.]+\\.)+${body.slice(1).join("\\.")}` : body.join("\\.");
  return {
    ok: true,
    destination: {
      kind: "pattern",
      regex: new RegExp(`^${source}$`),
      literalSuffix: labels.slice(lastWild + 1).join("."),
      literalPrefix: name.slice(0, name.indexOf("*")),
      labels: labels.length,
      anyDepth: labels[0] === "*",
    },
  };
}

/** Parses one `destinations` entry; the error names the entry and says what is wrong. */
export function parseDestination(pattern: string): DestinationResult {
  if (pattern === "*") return { ok: true, destination: ANY };
  if (pattern.length === 0) return { ok: false, error: "destination is empty" };
  if (isCountryPattern(pattern)) {
    const parsed = parseCountryPattern(pattern);
    return parsed.ok ? { ok: true, destination: { kind: "country", code: parsed.code } } : parsed;
  }
  if (pattern.includes("/") || pattern.includes(":")) {
    const parsed = parseNetwork(pattern);
    return parsed.ok ? { ok: true, destination: { kind: "ip", network: parsed.network } } : parsed;
  }
  const name = normalizeName(pattern);
  if (name === "*") return { ok: true, destination: ANY };
  if (name.length === 0) return { ok: false, error: `"${pattern}" is not a valid destination` };
  if (!name.includes("*")) {
    const parsed = parseNetwork(name);
    if (parsed.ok) return { ok: true, destination: { kind: "ip", network: parsed.network } };
  }
  return parseName(pattern, name);
}

/**
 * What a request is matched against, parsed once: the IPv4 and IPv6 addresses (from `host` when it
 * is an IP literal, and from `address`) and the normalised name when `host` is a name.
 */
export interface MatchTarget {
  readonly v4: readonly number[];
  readonly v6: readonly Uint32Array[];
  readonly name: string | null;
  /** Countries of the addresses (not of the name), when a lookup was given. */
  readonly countries: readonly string[];
}

/** Straightforward matcher, used by explain(); evaluate() uses the per-user index instead. */
export function destinationMatches(destination: Destination, target: MatchTarget): boolean {
  switch (destination.kind) {
    case "any":
      return true;
    case "ip": {
      const network = destination.network;
      if (network.family === 4)
        return target.v4.some((a) => v4InNetwork(a, network.prefix, network.net));
      return target.v6.some((a) => v6InNetwork(a, network.prefix, network.net));
    }
    case "country":
      return target.countries.includes(destination.code);
    case "domain":
      return target.name === destination.name;
    case "suffix":
      return target.name?.endsWith(`.${destination.suffix}`) ?? false;
    case "pattern":
      return target.name !== null && destination.regex.test(target.name);
  }
}

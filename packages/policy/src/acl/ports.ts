/**
 * Port specs as RustSocks writes them: "443", "8000-9000", "80,443,8080" or "*". Lists may also
 * mix ranges ("80,8000-8100"), which RustSocks refuses; whitespace around list items is ignored.
 */

export type PortSpecResult =
  | { ok: true; any: boolean; ranges: readonly (readonly [number, number])[] }
  | { ok: false; error: string };

function parsePort(text: string): number {
  if (text.length === 0 || text.length > 5) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value > 65535 ? -1 : value;
}

export function parsePortSpec(spec: string): PortSpecResult {
  if (spec.trim() === "*") return { ok: true, any: true, ranges: [] };
  const ranges: [number, number][] = [];
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    const dash = item.indexOf("-");
    if (dash < 0) {
      const port = parsePort(item);
      if (port < 0) return { ok: false, error: `"${item}" is not a port (0-65535)` };
      ranges.push([port, port]);
      continue;
    }
    const start = parsePort(item.slice(0, dash).trim());
    const end = parsePort(item.slice(dash + 1).trim());
    if (start < 0 || end < 0) {
      return { ok: false, error: `"${item}" is not a port range (like "8000-9000")` };
    }
    if (start > end) return { ok: false, error: `"${item}" is a reversed range (start > end)` };
    ranges.push([start, end]);
  }
  return { ok: true, any: false, ranges };
}

/** The ports of one rule, merged into sorted, disjoint [lo, hi] pairs for a quick scan. */
export interface PortSet {
  readonly any: boolean;
  /** Flat [lo0, hi0, lo1, hi1, ...], sorted and disjoint. */
  readonly ranges: Int32Array;
}

export const ANY_PORT: PortSet = Object.freeze({ any: true, ranges: new Int32Array(0) });

/** Builds the PortSet of already-validated specs; throws on an invalid one with its error text. */
export function compilePorts(specs: readonly string[]): PortSet {
  const all: (readonly [number, number])[] = [];
  for (const spec of specs) {
    const parsed = parsePortSpec(spec);
    if (!parsed.ok) throw new Error(parsed.error);
    if (parsed.any) return ANY_PORT;
    all.push(...parsed.ranges);
  }
  all.sort((a, b) => a[0] - b[0]);
  const merged: number[] = [];
  for (const [lo, hi] of all) {
    const last = merged.length - 1;
    if (last > 0 && lo <= merged[last]! + 1) {
      merged[last] = Math.max(merged[last]!, hi);
    } else {
      merged.push(lo, hi);
    }
  }
  if (merged.length === 2 && merged[0] === 0 && merged[1] === 65535) return ANY_PORT;
  return Object.freeze({ any: false, ranges: Int32Array.from(merged) });
}

export function portMatches(set: PortSet, port: number): boolean {
  if (set.any) return true;
  const ranges = set.ranges;
  for (let i = 0; i < ranges.length; i += 2) {
    if (port < ranges[i]!) return false;
    if (port <= ranges[i + 1]!) return true;
  }
  return false;
}

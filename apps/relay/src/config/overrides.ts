import type { CliOptions } from "../cli";

/** A command-line flag that sets one config key; applied to the raw file before validation. */
export interface ConfigOverride {
  /** Section and key, e.g. `["server", "bind_address"]`. */
  key: readonly [string, string];
  value: unknown;
  /** The flag it came from, named in a validation error. */
  flag: string;
}

/** The flags of `options` that override keys of the configuration file. */
export function cliOverrides(options: CliOptions): ConfigOverride[] {
  const candidates: [string, string, unknown, string][] = [
    ["server", "bind_address", options.bind, "--bind"],
    ["server", "bind_port", options.port, "--port"],
    ["server", "workers", options.workers, "--workers"],
    ["ops", "bind", options.opsBind, "--ops-bind"],
    ["logging", "level", options.logLevel, "--log-level"],
    ["logging", "format", options.logFormat, "--log-format"],
  ];
  return candidates
    .filter(([, , value]) => value !== undefined)
    .map(([section, key, value, flag]) => ({ key: [section, key], value, flag }));
}

/** `raw` (a parsed TOML document) with the overrides set; `raw` itself is left as it was. */
export function applyOverrides(raw: unknown, overrides: readonly ConfigOverride[]): unknown {
  if (overrides.length === 0) return raw;
  const doc: Record<string, unknown> = isRecord(raw) ? { ...raw } : {};
  for (const { key, value } of overrides) {
    const [section, name] = key;
    const current = doc[section];
    doc[section] = { ...(isRecord(current) ? current : {}), [name]: value };
  }
  return doc;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

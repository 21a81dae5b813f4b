import { z } from "zod";

export interface UnknownKey {
  /** Dotted path, e.g. `auth.socks_methd` or `auth.users[0].passwd`. */
  path: string;
  key: string;
  /** The keys the schema knows at that level, for a "did you mean". */
  known: string[];
}

/**
 * RustSocks keys EdgeSocks deliberately does not implement: a RustSocks file
 * loads with one warning for each. Only keys whose being ignored changes
 * neither who gets in nor what they may reach belong here: never a key under
 * `[auth]` or `[acl]`. Paths without array indices.
 */
export const IGNORED_RUSTSOCKS_KEYS: ReadonlySet<string> = new Set([
  "sessions", // RustSocks' own session database and dashboard; EdgeSocks records via the control plane
  "metrics", // RustSocks' metrics store; EdgeSocks serves /metrics on [ops]
  "telemetry",
  "server.tls.alpn_protocols",
  "server.pool.max_idle_per_dest", // EdgeSocks' pool: connections_per_destination
  "server.pool.max_total_idle", // EdgeSocks' pool: max_connections
  "server.pool.connect_timeout_ms", // EdgeSocks: server.connect_timeout_ms
  "qos.htb.refill_interval_ms", // EdgeSocks refills continuously
  "qos.htb.rebalance_interval_ms",
  "qos.htb.idle_timeout_secs",
]);

/** Keys in `raw` that `schema` does not know, with the keys it does know beside each. */
export function unknownKeys(schema: z.ZodType, raw: unknown, path = ""): UnknownKey[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isRecord(raw)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(raw).flatMap(([key, value]) => {
      const child = shape[key];
      const childPath = path ? `${path}.${key}` : key;
      return child
        ? unknownKeys(child, value, childPath)
        : [{ path: childPath, key, known: Object.keys(shape) }];
    });
  }
  if (inner instanceof z.ZodArray && Array.isArray(raw)) {
    return raw.flatMap((item, i) => unknownKeys(inner.element as z.ZodType, item, `${path}[${i}]`));
  }
  return [];
}

/** Whether `path` is on the explicit list of RustSocks keys that are only warned about. */
export function isIgnoredRustSocksKey(path: string): boolean {
  return IGNORED_RUSTSOCKS_KEYS.has(path.replace(/\[\d+\]/g, ""));
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodDefault ||
    current instanceof z.ZodNullable
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

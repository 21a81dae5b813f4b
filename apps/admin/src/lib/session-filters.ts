import type { ActiveSession, HistoryInput } from "./api-types";
import { destinationFilterError } from "./validate";

export const SESSION_STATUSES = ["closed", "failed", "rejected"] as const;
export const SORT_FIELDS = ["startedAt", "endedAt", "bytes", "duration"] as const;
export const TIME_WINDOWS = ["15m", "1h", "24h", "7d", "30d", "all", "custom"] as const;
export type TimeWindow = (typeof TIME_WINDOWS)[number];
export type SortField = (typeof SORT_FIELDS)[number];

const WINDOW_MS: Record<Exclude<TimeWindow, "all" | "custom">, number> = {
  "15m": 15 * 60_000,
  "1h": 3600_000,
  "24h": 24 * 3600_000,
  "7d": 7 * 24 * 3600_000,
  "30d": 30 * 24 * 3600_000,
};

/** The history page's filters as the URL keeps them (so a filtered view can be shared). */
export interface HistoryFilters {
  user: string;
  node: string;
  region: string;
  destination: string;
  /** Destination country, ISO 3166-1 alpha-2 (any case; sent in capitals). */
  country: string;
  status: (typeof SESSION_STATUSES)[number][];
  decision: "" | "allow" | "block";
  command: "" | "connect" | "bind" | "udp";
  window: TimeWindow;
  /** `datetime-local` values, used when window is "custom". */
  from: string;
  to: string;
  /** A byte size such as `1024`, `10k` or `5M`. */
  minBytes: string;
  sort: SortField;
  direction: "asc" | "desc";
}

export const DEFAULT_HISTORY_FILTERS: HistoryFilters = {
  user: "",
  node: "",
  region: "",
  destination: "",
  country: "",
  status: [],
  decision: "",
  command: "",
  window: "24h",
  from: "",
  to: "",
  minBytes: "",
  sort: "startedAt",
  direction: "desc",
};

const pick = <T extends string>(value: string | null, allowed: readonly T[], fallback: T): T =>
  value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;

/** Reads filters from the URL; anything unknown falls back to its default. */
export function filtersFromParams(params: URLSearchParams): HistoryFilters {
  const d = DEFAULT_HISTORY_FILTERS;
  return {
    user: params.get("user") ?? d.user,
    node: params.get("node") ?? d.node,
    region: params.get("region") ?? d.region,
    destination: params.get("destination") ?? d.destination,
    country: params.get("country") ?? d.country,
    status: params
      .getAll("status")
      .filter((s): s is HistoryFilters["status"][number] =>
        (SESSION_STATUSES as readonly string[]).includes(s),
      ),
    decision: pick(params.get("decision"), ["", "allow", "block"], d.decision),
    command: pick(params.get("command"), ["", "connect", "bind", "udp"], d.command),
    window: pick(params.get("window"), TIME_WINDOWS, d.window),
    from: params.get("from") ?? d.from,
    to: params.get("to") ?? d.to,
    minBytes: params.get("minBytes") ?? d.minBytes,
    sort: pick(params.get("sort"), SORT_FIELDS, d.sort),
    direction: pick(params.get("direction"), ["asc", "desc"], d.direction),
  };
}

/** Writes filters to URL parameters, leaving out the defaults. */
export function filtersToParams(filters: HistoryFilters): URLSearchParams {
  const params = new URLSearchParams();
  const d = DEFAULT_HISTORY_FILTERS;
  for (const key of [
    "user",
    "node",
    "region",
    "destination",
    "country",
    "decision",
    "command",
    "window",
    "from",
    "to",
    "minBytes",
    "sort",
    "direction",
  ] as const) {
    if (filters[key] !== d[key]) params.set(key, filters[key]);
  }
  for (const status of filters.status) params.append("status", status);
  return params;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `1500`, `10k`, `5 MiB`, `1.5G` → bytes (binary units); null when it is not a size. */
export function parseByteSize(text: string): number | null {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) return null;
  const unit = UNITS[match[2]!.toLowerCase()];
  if (unit === undefined) return null;
  const value = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(value) ? value : null;
}

export type HistoryFilterErrors = Partial<
  Record<"destination" | "country" | "minBytes" | "from" | "to", string>
>;

/**
 * The sessions.history input for the filters at `nowMs` (the time window is relative to it), or
 * the errors to show at the fields.
 */
export function historyInput(
  filters: HistoryFilters,
  nowMs: number,
): { ok: true; input: HistoryInput } | { ok: false; errors: HistoryFilterErrors } {
  const errors: HistoryFilterErrors = {};
  const destinationProblem = destinationFilterError(filters.destination);
  if (destinationProblem !== null) errors.destination = destinationProblem;
  const country = filters.country.trim().toUpperCase();
  if (country !== "" && !/^[A-Z]{2}$/.test(country)) {
    errors.country = "two letters, like DE (ISO 3166-1 alpha-2)";
  }
  let minBytes: number | undefined;
  if (filters.minBytes.trim() !== "") {
    const parsed = parseByteSize(filters.minBytes);
    if (parsed === null) errors.minBytes = `"${filters.minBytes}" is not a size (like 10k or 5M)`;
    else minBytes = parsed;
  }
  let from: string | undefined;
  let to: string | undefined;
  if (filters.window === "custom") {
    const fromMs = filters.from === "" ? Number.NaN : Date.parse(filters.from);
    const toMs = filters.to === "" ? Number.NaN : Date.parse(filters.to);
    if (filters.from !== "" && Number.isNaN(fromMs)) errors.from = "not a date and time";
    if (filters.to !== "" && Number.isNaN(toMs)) errors.to = "not a date and time";
    if (!Number.isNaN(fromMs) && !Number.isNaN(toMs) && fromMs >= toMs) {
      errors.to = "must be after the start";
    }
    if (!Number.isNaN(fromMs)) from = new Date(fromMs).toISOString();
    if (!Number.isNaN(toMs)) to = new Date(toMs).toISOString();
  } else if (filters.window !== "all") {
    from = new Date(nowMs - WINDOW_MS[filters.window]).toISOString();
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const text = (value: string) => (value.trim() === "" ? undefined : value.trim());
  const input: HistoryInput = {
    user: text(filters.user),
    node: text(filters.node),
    region: text(filters.region),
    destination: text(filters.destination),
    country: country === "" ? undefined : country,
    status: filters.status.length > 0 ? filters.status : undefined,
    decision: filters.decision === "" ? undefined : filters.decision,
    command: filters.command === "" ? undefined : filters.command,
    from,
    to,
    minBytes,
    sort: { field: filters.sort, direction: filters.direction },
  };
  // Absent rather than undefined keys: the request URL stays short and readable.
  for (const key of Object.keys(input) as (keyof HistoryInput)[]) {
    if (input[key] === undefined) delete input[key];
  }
  return { ok: true, input };
}

/** Window start for stats.summary and the overview page. */
export function windowStart(window: Exclude<TimeWindow, "all" | "custom">, nowMs: number): string {
  return new Date(nowMs - WINDOW_MS[window]).toISOString();
}

/** The live-sessions page's filters. */
export interface LiveFilter {
  /** Free text: matches user, node, region, destination, client address or session id. */
  search: string;
  node: string;
  region: string;
  user: string;
}

type LiveRow = ActiveSession & { node: string; region: string };

export function filterActiveSessions<T extends LiveRow>(
  rows: readonly T[],
  filter: LiveFilter,
): T[] {
  const terms = filter.search.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((row) => {
    if (filter.node !== "" && row.node !== filter.node) return false;
    if (filter.region !== "" && row.region !== filter.region) return false;
    if (filter.user !== "" && row.user !== filter.user) return false;
    if (terms.length === 0) return true;
    const haystack = [
      row.user,
      row.node,
      row.region,
      row.destinationHost ?? "",
      row.destinationAddress ?? "",
      row.destinationPort === null ? "" : `:${row.destinationPort}`,
      `${row.clientAddress}:${row.clientPort}`,
      row.id,
      row.command ?? "",
    ]
      .join(" ")
      .toLowerCase();
    // Every term must match somewhere (AND), as in most log search boxes.
    return terms.every((term) => haystack.includes(term));
  });
}

/** Distinct, sorted values of one field, for filter drop-downs. */
export function distinct<T>(rows: readonly T[], pickValue: (row: T) => string | null): string[] {
  const values = new Set<string>();
  for (const row of rows) {
    const value = pickValue(row);
    if (value !== null && value !== "") values.add(value);
  }
  return [...values].sort((a, b) => a.localeCompare(b));
}

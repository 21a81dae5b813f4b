import type { Db } from "@edgesocks/db";
import { SESSION_COMMANDS, SESSION_STATUSES, sessions } from "@edgesocks/db/schema";
import { text } from "@edgesocks/policy/text";
import { networkKeyRange } from "@edgesocks/socks/address";
import {
  and,
  asc,
  between,
  desc,
  eq,
  getTableColumns,
  gte,
  inArray,
  lt,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors";
import { CountryCode } from "../wire";

/** Earliest and latest time a filter may name (a typo such as year 20250 is refused, not scanned). */
export const FILTER_TIME_MIN_MS = Date.UTC(1970, 0, 1);
export const FILTER_TIME_MAX_MS = Date.UTC(2999, 11, 31, 23, 59, 59, 999);

const isoDate = z.iso.datetime({ offset: true }).refine((value) => {
  const ms = Date.parse(value);
  return ms >= FILTER_TIME_MIN_MS && ms <= FILTER_TIME_MAX_MS;
}, "must be between 1970-01-01 and 2999-12-31");

/**
 * Refines a schema with `from` and `to`: `from` must be before `to`, and when `maxWindowMs` is
 * set the window (to defaulting to now, from to `defaultWindowMs` before `to`) must fit in it.
 */
export function timeRange(options: { maxWindowMs?: number; defaultWindowMs?: number } = {}) {
  return (input: { from?: string | undefined; to?: string | undefined }, ctx: z.RefinementCtx) => {
    const toMs = input.to !== undefined ? Date.parse(input.to) : Date.now();
    const fromMs =
      input.from !== undefined
        ? Date.parse(input.from)
        : options.defaultWindowMs !== undefined
          ? toMs - options.defaultWindowMs
          : undefined;
    if (fromMs === undefined) return;
    if (input.from !== undefined && fromMs >= toMs) {
      ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
    } else if (options.maxWindowMs !== undefined && toMs - fromMs > options.maxWindowMs) {
      const days = (ms: number) => Math.ceil(ms / 86_400_000);
      ctx.addIssue({
        code: "custom",
        path: ["from"],
        message: `the window from → to is at most ${days(options.maxWindowMs)} days (asked for ${days(toMs - fromMs)})`,
      });
    }
  };
}

export const SESSION_SORT_FIELDS = ["startedAt", "endedAt", "bytes", "duration"] as const;

/** Filters shared by sessions.history, users.sessions and stats.summary. */
export const SessionFilter = z.object({
  user: text({ max: 255 }).optional(),
  node: text({ max: 255 }).optional(),
  region: text({ max: 255 }).optional(),
  /** Exact host, `*.example.com`, an IP address or a CIDR (matches the resolved address). */
  destination: text({ min: 1, max: 255 }).optional(),
  /** The destination address's country (ISO 3166-1 alpha-2), as the relay's GeoIP database said. */
  country: CountryCode.optional(),
  status: z.array(z.enum(SESSION_STATUSES)).min(1).optional(),
  decision: z.enum(["allow", "block"]).optional(),
  command: z.enum(SESSION_COMMANDS).optional(),
  /** Sessions started at or after this time. */
  from: isoDate.optional(),
  /** Sessions started before this time. */
  to: isoDate.optional(),
  /** bytesUp + bytesDown at least this. */
  minBytes: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type SessionFilter = z.infer<typeof SessionFilter>;

/** sessions.history's fields; SessionHistoryInput adds the time-range check. */
export const SessionHistoryFields = SessionFilter.extend({
  sort: z
    .object({
      field: z.enum(SESSION_SORT_FIELDS).default("startedAt"),
      direction: z.enum(["asc", "desc"]).default("desc"),
    })
    .default({ field: "startedAt", direction: "desc" }),
  /** @default 50 */
  limit: z.int().min(1).max(500).default(50),
  /** `nextCursor` of the previous page. */
  cursor: text({ max: 200 }).nullish(),
});
export const SessionHistoryInput = SessionHistoryFields.superRefine(timeRange());
export type SessionHistoryInput = z.infer<typeof SessionHistoryInput>;

export type SessionRow = typeof sessions.$inferSelect;

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Stored text as bytes decoded in JavaScript: invalid UTF-8 becomes U+FFFD instead of a crash. */
export function storedText(value: unknown): string {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value))
    return utf8.decode(value as ArrayBuffer);
  return String(value);
}

/**
 * Every column of sessions, text columns read as BLOBs and decoded with storedText(): the libSQL
 * driver aborts the whole process on a TEXT value that is not valid UTF-8 (as an older ingest
 * could store), so no stored value reaches it as text.
 */
const SESSION_COLUMNS = Object.fromEntries(
  Object.entries(getTableColumns(sessions)).map(([key, column]) => [
    key,
    column.columnType === "SQLiteText"
      ? sql`CAST(${column} AS BLOB)`.mapWith(storedText).as(key)
      : column,
  ]),
) as unknown as ReturnType<typeof getTableColumns<typeof sessions>>;

/** One stored session by id, read defensively (see SESSION_COLUMNS). */
export async function getSession(db: Db, id: string): Promise<SessionRow | undefined> {
  return db.select(SESSION_COLUMNS).from(sessions).where(eq(sessions.id, id)).get();
}

/** A stored session as the API returns it (the wire record plus when it was ingested). */
export function sessionView(row: SessionRow) {
  return {
    id: row.id,
    node: row.node,
    region: row.region,
    user: row.user,
    clientAddress: row.clientAddress,
    clientPort: row.clientPort,
    protocol: row.protocol,
    transport: row.transport,
    command: row.command,
    destinationHost: row.destinationHost,
    destinationAddress: row.destinationAddress,
    destinationPort: row.destinationPort,
    destinationCountry: row.destinationCountry,
    clientCountry: row.clientCountry,
    startedAt: new Date(row.startedAtMs).toISOString(),
    endedAt: new Date(row.endedAtMs).toISOString(),
    durationMs: row.durationMs,
    bytesUp: row.bytesUp,
    bytesDown: row.bytesDown,
    packetsUp: row.packetsUp,
    packetsDown: row.packetsDown,
    status: row.status,
    decision: row.decision,
    ruleId: row.ruleId,
    closeReason: row.closeReason,
    /** Connections this row stands for (rejected-before-request ones are folded per minute). */
    count: row.count,
    /** The upstream route taken (`name#chain`); null: direct. */
    route: row.route,
    ingestedAt: new Date(row.ingestedAtMs).toISOString(),
  };
}
export type SessionView = ReturnType<typeof sessionView>;

/** CIDRs shorter than this (an IPv4 /24, an IPv6 /56) do not use the address index. */
const WIDE_PREFIX_BITS = 120;

/** WHERE conditions for a filter. */
export function filterConditions(filter: SessionFilter): SQL[] {
  const where: SQL[] = [];
  if (filter.user !== undefined) where.push(eq(sessions.user, filter.user));
  if (filter.node !== undefined) where.push(eq(sessions.node, filter.node));
  if (filter.region !== undefined) where.push(eq(sessions.region, filter.region));
  if (filter.status !== undefined) where.push(inArray(sessions.status, filter.status));
  if (filter.decision !== undefined) where.push(eq(sessions.decision, filter.decision));
  if (filter.command !== undefined) where.push(eq(sessions.command, filter.command));
  if (filter.country !== undefined) where.push(eq(sessions.destinationCountry, filter.country));
  if (filter.from !== undefined) where.push(gte(sessions.startedAtMs, Date.parse(filter.from)));
  if (filter.to !== undefined) where.push(lt(sessions.startedAtMs, Date.parse(filter.to)));
  if (filter.minBytes !== undefined) where.push(gte(sessions.bytesTotal, filter.minBytes));
  if (filter.destination !== undefined) {
    const destination = filter.destination.trim().toLowerCase();
    const range = networkKeyRange(destination);
    if (range !== null) {
      // A narrow range is found fastest through the address index; a wide one (most rows) is
      // found fastest by walking the time index and filtering, so the `+` hides the index then.
      where.push(
        range.prefixBits >= WIDE_PREFIX_BITS
          ? between(sessions.destinationAddressKey, range.low, range.high)
          : sql`+${sessions.destinationAddressKey} BETWEEN ${range.low} AND ${range.high}`,
      );
    } else if (destination.startsWith("*.")) {
      // LIKE's own wildcards in the name are escaped; `*.example.com` matches subdomains only.
      const suffix = destination.slice(1).replace(/[\\%_]/g, (c) => `\\${c}`);
      where.push(sql`${sessions.destinationHost} LIKE ${`%${suffix}`} ESCAPE '\\'`);
    } else if (destination.includes("*")) {
      throw new ApiError(
        "API_E_BAD_INPUT",
        `destination: "${filter.destination}" is not a host, *.domain, IP address or CIDR`,
      );
    } else {
      where.push(eq(sessions.destinationHost, destination));
    }
  }
  return where;
}

const SORT_COLUMNS = {
  startedAt: sessions.startedAtMs,
  endedAt: sessions.endedAtMs,
  bytes: sessions.bytesTotal,
  duration: sessions.durationMs,
} as const;

const Cursor = z.tuple([z.int(), z.int()]);

function encodeCursor(value: number, seq: number): string {
  return Buffer.from(JSON.stringify([value, seq])).toString("base64url");
}

function decodeCursor(text: string): [number, number] {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(text, "base64url").toString("utf8")));
  } catch (cause) {
    throw new ApiError("API_E_BAD_INPUT", "cursor: not a cursor this API returned", { cause });
  }
}

/** One page of sessions; `nextCursor` is null on the last page. */
export async function querySessionHistory(
  db: Db,
  input: SessionHistoryInput,
): Promise<{ items: SessionView[]; nextCursor: string | null }> {
  const where = filterConditions(input);
  const column = SORT_COLUMNS[input.sort.field];
  const descending = input.sort.direction === "desc";
  if (input.cursor) {
    const [value, seq] = decodeCursor(input.cursor);
    // Keyset pagination on (sort value, seq): stable under concurrent inserts.
    where.push(
      descending
        ? or(lt(column, value), and(eq(column, value), lt(sessions.seq, seq)))!
        : or(sql`${column} > ${value}`, and(eq(column, value), sql`${sessions.seq} > ${seq}`))!,
    );
  }
  const order = descending ? [desc(column), desc(sessions.seq)] : [asc(column), asc(sessions.seq)];
  const rows = await db
    .select(SESSION_COLUMNS)
    .from(sessions)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(...order)
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  const sortValue = (row: SessionRow) =>
    input.sort.field === "startedAt"
      ? row.startedAtMs
      : input.sort.field === "endedAt"
        ? row.endedAtMs
        : input.sort.field === "bytes"
          ? row.bytesTotal
          : row.durationMs;
  return {
    items: page.map(sessionView),
    nextCursor:
      rows.length > input.limit && last !== undefined
        ? encodeCursor(sortValue(last), last.seq)
        : null,
  };
}

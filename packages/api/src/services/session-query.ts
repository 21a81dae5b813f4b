import type { Db } from "@edgesocks/db";
import { SESSION_COMMANDS, SESSION_STATUSES, sessions } from "@edgesocks/db/schema";
import { and, asc, between, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors";
import { cidrKeyRange } from "../ip-key";

const isoDate = z.iso.datetime({ offset: true });

export const SESSION_SORT_FIELDS = ["startedAt", "endedAt", "bytes", "duration"] as const;

/** Filters shared by sessions.history, users.sessions and stats.summary. */
export const SessionFilter = z.object({
  user: z.string().max(255).optional(),
  node: z.string().max(255).optional(),
  region: z.string().max(255).optional(),
  /** Exact host, `*.example.com`, an IP address or a CIDR (matches the resolved address). */
  destination: z.string().min(1).max(255).optional(),
  status: z.array(z.enum(SESSION_STATUSES)).min(1).optional(),
  decision: z.enum(["allow", "block"]).optional(),
  command: z.enum(SESSION_COMMANDS).optional(),
  /** Sessions started at or after this time. */
  from: isoDate.optional(),
  /** Sessions started before this time. */
  to: isoDate.optional(),
  /** bytesUp + bytesDown at least this. */
  minBytes: z.int().min(0).optional(),
});
export type SessionFilter = z.infer<typeof SessionFilter>;

export const SessionHistoryInput = SessionFilter.extend({
  sort: z
    .object({
      field: z.enum(SESSION_SORT_FIELDS).default("startedAt"),
      direction: z.enum(["asc", "desc"]).default("desc"),
    })
    .default({ field: "startedAt", direction: "desc" }),
  /** @default 50 */
  limit: z.int().min(1).max(500).default(50),
  /** `nextCursor` of the previous page. */
  cursor: z.string().max(200).nullish(),
});
export type SessionHistoryInput = z.infer<typeof SessionHistoryInput>;

export type SessionRow = typeof sessions.$inferSelect;

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
  if (filter.from !== undefined) where.push(gte(sessions.startedAtMs, Date.parse(filter.from)));
  if (filter.to !== undefined) where.push(lt(sessions.startedAtMs, Date.parse(filter.to)));
  if (filter.minBytes !== undefined) where.push(gte(sessions.bytesTotal, filter.minBytes));
  if (filter.destination !== undefined) {
    const destination = filter.destination.trim().toLowerCase();
    const range = cidrKeyRange(destination);
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
    .select()
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

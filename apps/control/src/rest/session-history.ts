import type { Db } from "@edgesocks/db";
import { sessions } from "@edgesocks/db/schema";
import { and, count, desc, eq, gt, or, type SQL } from "drizzle-orm";
import type { z } from "zod";
import type { HistoryPage, HistoryQuery } from "./schemas";
import { toRestSession } from "./session-shape";

/** RustSocks' default and largest page. */
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/**
 * RustSocks' paged history (page numbers and a total), newest first. The tRPC API pages by
 * cursor instead; this is the offset form scripts written for RustSocks expect.
 */
export async function sessionHistoryPage(
  db: Db,
  query: z.output<typeof HistoryQuery>,
  nowMs = Date.now(),
): Promise<z.input<typeof HistoryPage>> {
  const page = Math.max(1, query.page ?? 1);
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, query.page_size ?? DEFAULT_PAGE_SIZE));
  const where: SQL[] = [];
  if (query.user !== undefined) where.push(eq(sessions.user, query.user));
  if (query.hours !== undefined) where.push(gt(sessions.endedAtMs, nowMs - query.hours * 3600_000));
  if (query.dest_ip !== undefined) {
    const dest = query.dest_ip.trim().toLowerCase();
    where.push(or(eq(sessions.destinationHost, dest), eq(sessions.destinationAddress, dest))!);
  }
  if (query.status === "rejected_by_acl") {
    where.push(eq(sessions.status, "rejected"), eq(sessions.decision, "block"));
  } else if (query.status !== undefined) where.push(eq(sessions.status, query.status));
  const condition = where.length > 0 ? and(...where) : undefined;
  const [counted, rows] = await Promise.all([
    db.select({ n: count() }).from(sessions).where(condition).get(),
    db
      .select()
      .from(sessions)
      .where(condition)
      .orderBy(desc(sessions.startedAtMs), desc(sessions.seq))
      .limit(pageSize)
      .offset((page - 1) * pageSize),
  ]);
  const total = counted?.n ?? 0;
  return {
    data: rows.map((row) =>
      toRestSession({
        ...row,
        startedAt: new Date(row.startedAtMs).toISOString(),
        endedAt: new Date(row.endedAtMs).toISOString(),
      }),
    ),
    total,
    page,
    page_size: pageSize,
    total_pages: Math.ceil(total / pageSize),
  };
}

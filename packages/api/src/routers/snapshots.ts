import { snapshots } from "@edgesocks/db/schema";
import type { PolicySnapshot } from "@edgesocks/policy";
import { desc, eq, lt } from "drizzle-orm";
import { z } from "zod";
import type { Context } from "../context";
import { ApiError } from "../errors";
import { type PublishedSnapshot, rowToPublished } from "../services/policy-service";
import { snapshotToState } from "../services/policy-state";
import { diffSnapshots } from "../services/snapshot-diff";
import type { Principal } from "../services/token-resolver";
import { adminProcedure, router, viewerProcedure } from "../trpc";
import { Limit } from "./inputs";
import {
  RollbackOutput,
  SnapshotDiffOutput,
  SnapshotGetOutput,
  SnapshotListOutput,
} from "./outputs";

async function load(ctx: Context, version: number): Promise<PublishedSnapshot> {
  const row = await ctx.services.database.db
    .select()
    .from(snapshots)
    .where(eq(snapshots.version, version))
    .get();
  if (row === undefined)
    throw new ApiError("API_E_NOT_FOUND", `version: ${version} does not exist`);
  return rowToPublished(row);
}

/** Viewers see snapshots without password hashes or upstream hops' passwords. */
function forReader(snapshot: PolicySnapshot, admin: Principal & { kind: "admin" }): PolicySnapshot {
  if (admin.role === "admin") return snapshot;
  return {
    ...snapshot,
    users: snapshot.users.map((u) =>
      u.passwordHash === undefined ? u : { ...u, passwordHash: "$argon2id$redacted" },
    ),
    ...(snapshot.routes
      ? {
          routes: snapshot.routes.map((route) => ({
            ...route,
            chains: route.chains.map((chain) => ({
              hops: chain.hops.map((hop) =>
                "password" in hop && hop.password !== undefined
                  ? { ...hop, password: "redacted" }
                  : hop,
              ),
            })),
          })),
        }
      : {}),
  };
}

function meta(s: PublishedSnapshot) {
  return {
    version: s.version,
    epoch: s.epoch,
    hash: s.hash,
    createdBy: s.createdBy,
    summary: s.summary,
    createdAt: new Date(s.createdAtMs).toISOString(),
  };
}

export const snapshotsRouter = router({
  /** Newest first; pass `nextBefore` back as `before` for the next page. */
  list: viewerProcedure
    .input(z.object({ limit: Limit, before: z.int().min(1).optional() }).default({ limit: 50 }))
    .output(SnapshotListOutput)
    .query(async ({ ctx, input }) => {
      const rows = await ctx.services.database.db
        .select({
          version: snapshots.version,
          epoch: snapshots.epoch,
          hash: snapshots.hash,
          createdBy: snapshots.createdBy,
          summary: snapshots.summary,
          createdAtMs: snapshots.createdAtMs,
        })
        .from(snapshots)
        .where(input.before === undefined ? undefined : lt(snapshots.version, input.before))
        .orderBy(desc(snapshots.version))
        .limit(input.limit + 1);
      const page = rows.slice(0, input.limit);
      return {
        items: page.map(({ createdAtMs, ...r }) => ({
          ...r,
          createdAt: new Date(createdAtMs).toISOString(),
        })),
        nextBefore: rows.length > input.limit ? page.at(-1)!.version : null,
      };
    }),

  /** One version (the newest when `version` is absent), with the full snapshot. */
  get: viewerProcedure
    .input(z.object({ version: z.int().min(1).optional() }).default({}))
    .output(SnapshotGetOutput)
    .query(async ({ ctx, input }) => {
      let snapshot: PublishedSnapshot | null;
      if (input.version === undefined) {
        const newest = await ctx.services.policy.latestVersion();
        snapshot = newest === 0 ? null : await load(ctx, newest);
      } else snapshot = await load(ctx, input.version);
      if (snapshot === null) throw new ApiError("API_E_NOT_FOUND", "no snapshot published yet");
      return { ...meta(snapshot), snapshot: forReader(snapshot.snapshot, ctx.admin) };
    }),

  diff: viewerProcedure
    .input(z.object({ from: z.int().min(1), to: z.int().min(1) }))
    .output(SnapshotDiffOutput)
    .query(async ({ ctx, input }) => {
      const [from, to] = await Promise.all([load(ctx, input.from), load(ctx, input.to)]);
      // Diffed as stored (a viewer sees that a hash changed); the diff shows no hash text.
      return diffSnapshots(from.snapshot, to.snapshot);
    }),

  /** Publishes a new version whose content equals `version`'s (and restores the tables to it). */
  rollback: adminProcedure
    .input(z.object({ version: z.int().min(1) }))
    .output(RollbackOutput)
    .mutation(async ({ ctx, input }) => {
      const target = await load(ctx, input.version);
      const restored = snapshotToState(target.snapshot);
      return ctx.services.policy
        .change({
          actor: ctx.admin.name,
          action: "snapshots.rollback",
          target: `to version ${input.version}`,
          edit: (state) => {
            Object.assign(state, structuredClone(restored));
            return { result: null, after: { rolledBackTo: input.version } };
          },
        })
        .then(({ version }) => ({ version, restoredFrom: input.version }));
    }),
});

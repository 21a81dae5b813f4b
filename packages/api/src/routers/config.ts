import { nodes } from "@edgesocks/db/schema";
import { tracked } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { nodeProcedure, router } from "../trpc";
import { ConfigAckInput, type ConfigEvent, ConfigWatchInput } from "../wire";
import { OkOutput } from "./outputs";

export const configRouter = router({
  /**
   * The relay's policy feed: the newest snapshot at once when the relay's (epoch, version) differs
   * from it, then every newer version as it is published (a burst of edits arrives as its newest
   * version only). Each event is tracked by its version, so a reconnect resumes from there.
   */
  watch: nodeProcedure.input(ConfigWatchInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const { hub, database, metrics, watching, logger } = ctx.services;
    const nodeId = ctx.node.nodeId;
    const abort = signal ?? new AbortController().signal;
    let held: { version: number | null; epoch: string | null } = {
      version: input.version,
      epoch: input.epoch,
    };
    const resumed = input.lastEventId == null ? Number.NaN : Number(input.lastEventId);
    // A resume id is a version this instance's fleet sent, so it is in the current epoch.
    if (Number.isInteger(resumed)) held = { version: resumed, epoch: hub.current()?.epoch ?? null };

    watching.set(nodeId, (watching.get(nodeId) ?? 0) + 1);
    metrics.connectedNodes.inc();
    try {
      while (!abort.aborted) {
        const generation = hub.generation();
        const newest = hub.current();
        if (newest !== null && (held.epoch !== newest.epoch || held.version !== newest.version)) {
          const event: ConfigEvent = {
            version: newest.version,
            epoch: newest.epoch,
            snapshot: newest.snapshot,
          };
          held = { version: newest.version, epoch: newest.epoch };
          const { db, writes } = database;
          writes
            .run(() =>
              db
                .update(nodes)
                .set({ sentVersion: newest.version, sentEpoch: newest.epoch, sentAtMs: Date.now() })
                .where(eq(nodes.id, nodeId)),
            )
            .catch((error: unknown) =>
              logger.warn({ err: String(error), node: ctx.node.name }, "recording a push failed"),
            );
          metrics.snapshotPushesTotal.inc();
          yield tracked(String(newest.version), event);
        }
        await hub.waitForChange(generation, abort);
      }
    } finally {
      const left = (watching.get(nodeId) ?? 1) - 1;
      if (left > 0) watching.set(nodeId, left);
      else watching.delete(nodeId);
      metrics.connectedNodes.dec();
    }
  }),

  /** The relay applied or rejected a version. */
  ack: nodeProcedure
    .input(ConfigAckInput)
    .output(OkOutput)
    .mutation(async ({ ctx, input }) => {
      const { db, writes } = ctx.services.database;
      const nowMs = Date.now();
      if (input.status === "applied") {
        await writes.run(() =>
          db
            .update(nodes)
            .set({
              appliedVersion: input.version,
              appliedEpoch: input.epoch,
              appliedAtMs: nowMs,
              rejectedVersion: null,
              rejectedEpoch: null,
              rejectionReason: null,
            })
            .where(eq(nodes.id, ctx.node.nodeId)),
        );
      } else {
        await writes.run(() =>
          db
            .update(nodes)
            .set({
              rejectedVersion: input.version,
              rejectedEpoch: input.epoch,
              rejectionReason: input.reason,
            })
            .where(and(eq(nodes.id, ctx.node.nodeId))),
        );
        ctx.services.logger.warn(
          { node: ctx.node.name, version: input.version, reason: input.reason },
          "node rejected a snapshot",
        );
      }
      return { ok: true as const };
    }),
});

import type { Database } from "@edgesocks/db";
import { nodeCommands } from "@edgesocks/db/schema";
import type { Logger } from "@edgesocks/telemetry";
import { and, asc, gt, inArray, isNull, lt } from "drizzle-orm";
import type { ControlMetrics } from "../metrics";
import type { NodeCommand } from "../wire";

export interface NodeCommandBusOptions {
  database: Database;
  logger: Logger;
  metrics: ControlMetrics;
  /** How often undelivered commands are looked for, in ms. @default 1000 */
  pollIntervalMs?: number;
  /** A command no instance delivered within this many ms is dropped (and counted). @default 60000 */
  ttlMs?: number;
}

type Deliver = (command: NodeCommand) => void;

/**
 * Commands for relays. A command is stored first, so whichever control-plane instance holds the
 * relay's nodes.commands subscription delivers it (the poll looks only for nodes subscribed here).
 */
export class NodeCommandBus {
  readonly #database: Database;
  readonly #logger: Logger;
  readonly #metrics: ControlMetrics;
  readonly #pollIntervalMs: number;
  readonly #ttlMs: number;
  readonly #subscribers = new Map<number, Set<Deliver>>();
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #again = false;
  #lastCleanupMs = 0;

  constructor(options: NodeCommandBusOptions) {
    this.#database = options.database;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#ttlMs = options.ttlMs ?? 60_000;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.#pollIntervalMs);
    this.#timer.unref();
  }

  /** Stores a command for a node and delivers it at once if the node is subscribed here. */
  async send(nodeId: number, command: NodeCommand): Promise<void> {
    const { db, writes } = this.#database;
    await writes.run(() =>
      db.insert(nodeCommands).values({
        nodeId,
        commandJson: JSON.stringify(command),
        createdAtMs: Date.now(),
      }),
    );
    await this.poll();
  }

  subscribe(nodeId: number, deliver: Deliver): () => void {
    let set = this.#subscribers.get(nodeId);
    if (set === undefined) {
      set = new Set();
      this.#subscribers.set(nodeId, set);
    }
    set.add(deliver);
    void this.poll();
    return () => {
      set.delete(deliver);
      if (set.size === 0) this.#subscribers.delete(nodeId);
    };
  }

  /** Delivers undelivered commands of the nodes subscribed here. */
  poll(): Promise<void> {
    if (this.#polling !== null) {
      this.#again = true;
      return this.#polling;
    }
    this.#polling = this.#deliverPending()
      .catch((error: unknown) =>
        this.#logger.warn({ err: String(error) }, "delivering node commands failed"),
      )
      .finally(() => {
        this.#polling = null;
        if (this.#again) {
          this.#again = false;
          void this.poll();
        }
      });
    return this.#polling;
  }

  async #deliverPending(): Promise<void> {
    const { db, writes } = this.#database;
    const nowMs = Date.now();
    const cutoffMs = nowMs - this.#ttlMs;
    if (nowMs - this.#lastCleanupMs >= this.#ttlMs) {
      this.#lastCleanupMs = nowMs;
      const old = await writes.run(() =>
        db
          .delete(nodeCommands)
          .where(lt(nodeCommands.createdAtMs, cutoffMs))
          .returning({ deliveredAtMs: nodeCommands.deliveredAtMs }),
      );
      const expired = old.filter((row) => row.deliveredAtMs === null).length;
      if (expired > 0) {
        this.#metrics.commandsExpiredTotal.inc(expired);
        this.#logger.warn({ count: expired }, "node commands expired undelivered");
      }
    }
    const nodeIds = [...this.#subscribers.keys()];
    if (nodeIds.length === 0) return;
    const pending = await db
      .select()
      .from(nodeCommands)
      .where(
        and(
          inArray(nodeCommands.nodeId, nodeIds),
          isNull(nodeCommands.deliveredAtMs),
          gt(nodeCommands.createdAtMs, cutoffMs),
        ),
      )
      .orderBy(asc(nodeCommands.id));
    if (pending.length === 0) return;
    const delivered: number[] = [];
    for (const row of pending) {
      const subscribers = this.#subscribers.get(row.nodeId);
      if (subscribers === undefined || subscribers.size === 0) continue;
      const command = JSON.parse(row.commandJson) as NodeCommand;
      for (const deliver of subscribers) deliver(command);
      delivered.push(row.id);
    }
    if (delivered.length > 0) {
      await writes.run(() =>
        db
          .update(nodeCommands)
          .set({ deliveredAtMs: Date.now() })
          .where(inArray(nodeCommands.id, delivered)),
      );
    }
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#subscribers.clear();
  }
}

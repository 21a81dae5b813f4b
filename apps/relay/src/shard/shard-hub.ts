import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Logger, MetricObjectWithValues, MetricValue } from "@edgesocks/telemetry";
import type { RelayConfig } from "../config/schema";
import { RelayError } from "../errors";
import type { Relay, SessionSummary, ShardPeers } from "../relay";
import type { FromShard, ShardWorkerData, ToShard } from "./messages";
import { SharedRelayState, type SharedStateSize } from "./shared-state";

const WORKER_ENTRY = new URL("../../bin/shard-worker.mjs", import.meta.url);
/** A worker that does not answer a metrics or sessions request in time is left out of the answer. */
const COLLECT_TIMEOUT_MS = 2_000;
/** A worker that died is started again after this (a crash loop stays slow). */
const RESTART_DELAY_MS = 1_000;

/** Threads to run for `server.workers`. */
export function workerCount(setting: RelayConfig["server"]["workers"]): number {
  return setting === "auto" ? Math.max(1, availableParallelism()) : setting;
}

export interface ShardHubOptions {
  /** Threads in all, the main thread included (≥ 2). */
  threads: number;
  config: RelayConfig;
  baseDir: string;
  node: { name: string | null; region: string | null };
  logger: Logger;
}

interface Shard {
  index: number;
  worker: Worker;
  listening: boolean;
  closing: boolean;
}

type Pending = {
  resolve: (message: FromShard) => void;
  timer: NodeJS.Timeout;
};

/**
 * The main thread's side of a multi-threaded relay. The main thread runs a
 * full relay (policy source or fleet agent, spool, ops server, and its own
 * SOCKS listener); the hub starts the other threads, sends them every policy
 * the main thread's store takes, hands their session records to the main
 * relay, gathers their metrics and sessions for the ops server and the
 * agent, and stops them on shutdown. A worker that dies is restarted.
 */
export class ShardHub implements ShardPeers {
  readonly shared: SharedRelayState;
  readonly #options: ShardHubOptions;
  readonly #size: SharedStateSize;
  readonly #shards = new Map<number, Shard>();
  readonly #pending = new Map<number, Pending>();
  #relay: Relay | undefined;
  #nextRequest = 1;
  #closing = false;

  constructor(options: ShardHubOptions) {
    // Older Node ignores `reusePort`: the second thread would fail with EADDRINUSE.
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    if (major < 22 || (major === 22 && minor < 12)) {
      throw new RelayError(
        "RELAY_E_CONFIG",
        `server.workers: more than one thread needs Node.js 22.12 or later (SO_REUSEPORT); this is ${process.versions.node}`,
      );
    }
    this.#options = options;
    this.#size = {
      shards: options.threads,
      // Every open session holds at most one user key and one client key.
      keys: options.config.server.max_connections,
    };
    this.shared = SharedRelayState.create(this.#size);
  }

  /** Starts the other threads once the main relay listens; rejects if one cannot start. */
  async start(relay: Relay): Promise<void> {
    this.#relay = relay;
    relay.policy.onChange(
      (next) => this.#broadcast({ type: "policy", snapshot: next.snapshot }),
      "hand-off to worker threads",
    );
    const started: Promise<void>[] = [];
    for (let index = 1; index < this.#options.threads; index++) started.push(this.#spawn(index));
    await Promise.all(started);
  }

  ready(): boolean {
    if (this.#shards.size < this.#options.threads - 1) return false;
    for (const shard of this.#shards.values()) if (!shard.listening) return false;
    return true;
  }

  async metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[][]> {
    const replies = await this.#collect("metrics");
    return replies.flatMap((reply) => (reply.type === "metrics" ? [reply.metrics] : []));
  }

  async sessions(): Promise<SessionSummary[]> {
    const replies = await this.#collect("sessions");
    return replies.flatMap((reply) => (reply.type === "sessions" ? reply.sessions : []));
  }

  terminate(id: string, reason: string): void {
    this.#broadcast({ type: "terminate", id, reason });
  }

  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    await Promise.all(
      [...this.#shards.values()].map(async (shard) => {
        shard.closing = true;
        const exited = new Promise<void>((resolve) => shard.worker.once("exit", () => resolve()));
        shard.worker.postMessage({ type: "close", graceMs } satisfies ToShard);
        const timer = setTimeout(() => void shard.worker.terminate(), graceMs + 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  #spawn(index: number): Promise<void> {
    const { config, baseDir, node, logger } = this.#options;
    const relay = this.#relay!;
    // The ports the main thread bound (port 0 in the config means one chosen by the kernel).
    const tls = relay.tlsAddress();
    const server = {
      ...config.server,
      bind_port: relay.socksAddress().port,
      // A separate TLS port only when the config has one; else the main port speaks TLS.
      ...(config.server.tls?.bind_port !== undefined && tls
        ? { tls: { ...config.server.tls, bind_port: tls.port } }
        : {}),
    };
    const ops = relay.opsAddress();
    const data: ShardWorkerData = {
      shard: index,
      config: { ...config, server },
      ownPorts: ops ? [ops.port] : [],
      baseDir,
      node,
      shared: this.shared.buffer,
      quota: this.shared.quota.buffer,
      size: this.#size,
      snapshot: relay.policy.loaded ? relay.policy.current.snapshot : null,
    };
    const worker = new Worker(WORKER_ENTRY, { workerData: data });
    const shard: Shard = { index, worker, listening: false, closing: false };
    this.#shards.set(index, shard);
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (message: FromShard) => {
        switch (message.type) {
          case "listening":
            shard.listening = true;
            resolve();
            return;
          case "failed": {
            const error = new Error(`worker ${index}: ${message.message}`);
            if (message.code) (error as NodeJS.ErrnoException).code = message.code;
            reject(error);
            return;
          }
          case "records":
            for (const record of message.records) relay.records.add(record);
            return;
          case "metrics":
          case "sessions":
            this.#settle(message.request, message);
            return;
          case "closed":
            return;
        }
      });
      worker.on("error", (error) => {
        logger.error({ shard: index, err: error }, "relay worker thread failed");
        reject(error);
      });
      worker.on("exit", (code) => {
        this.#shards.delete(index);
        // Its sessions are gone: take them out of the shared connection counts and QoS shares.
        this.shared.releaseShard(index);
        if (this.#closing || shard.closing) return;
        logger.error({ shard: index, code }, "relay worker thread exited; restarting it");
        setTimeout(() => {
          if (!this.#closing) this.#spawn(index).catch(() => {});
        }, RESTART_DELAY_MS).unref();
      });
    });
  }

  async #collect(what: "metrics" | "sessions"): Promise<FromShard[]> {
    const shards = [...this.#shards.values()].filter((s) => s.listening);
    return (
      await Promise.all(
        shards.map(
          (shard) =>
            new Promise<FromShard | null>((resolve) => {
              const request = this.#nextRequest++;
              const timer = setTimeout(() => {
                this.#pending.delete(request);
                resolve(null);
              }, COLLECT_TIMEOUT_MS);
              this.#pending.set(request, { resolve, timer });
              shard.worker.postMessage({ type: "collect", request, what } satisfies ToShard);
            }),
        ),
      )
    ).filter((reply): reply is FromShard => reply !== null);
  }

  #settle(request: number, message: FromShard): void {
    const pending = this.#pending.get(request);
    if (!pending) return;
    this.#pending.delete(request);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  #broadcast(message: ToShard): void {
    for (const shard of this.#shards.values()) shard.worker.postMessage(message);
  }
}

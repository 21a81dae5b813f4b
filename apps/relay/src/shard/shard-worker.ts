import { parentPort, workerData } from "node:worker_threads";
import { createLogger, createRegistry } from "@edgesocks/telemetry";
import { createRelayMetrics } from "../metrics";
import { releaseStartupMemory } from "../ops/startup-memory";
import { describeFailures, PolicyStore } from "../policy/policy-store";
import { startRelay } from "../relay";
import type { SessionRecord } from "../session/record";
import type { FromShard, ShardWorkerData, ToShard } from "./messages";
import { SharedRelayState } from "./shared-state";

// One extra SOCKS-serving thread: its own listener on the shared port, its
// policy from the main thread, its session records back to the main thread
// (which spools and ships them). No ops server: the main thread serves one.
const data = workerData as ShardWorkerData;
const port = parentPort!;
const post = (message: FromShard) => port.postMessage(message);

const { config } = data;
const logger = createLogger({
  level: config.logging.level,
  format: config.logging.format,
  base: {
    service: "edgesocks-relay",
    shard: data.shard,
    ...(data.node.name ? { node: data.node.name } : {}),
  },
});
const policy = new PolicyStore(data.node);
if (data.snapshot) policy.apply(data.snapshot);

/**
 * Session records go to the main thread once per turn of the event loop rather than one message
 * each: a message costs a structured clone and a wake-up of the main thread, which at thousands
 * of sessions per second was a measurable share of both threads' time.
 */
class RecordBatches {
  #pending: SessionRecord[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  add(record: SessionRecord): void {
    this.#pending.push(record);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const records = this.#pending;
    this.#pending = [];
    post({ type: "records", records });
  }
}
const records = new RecordBatches();

try {
  const relay = await startRelay({
    config: { ...config, ops: { ...config.ops, bind: undefined } },
    ownPorts: data.ownPorts,
    baseDir: data.baseDir,
    logger,
    metrics: createRelayMetrics(createRegistry("edgesocks_", { processMetrics: false })),
    node: data.node,
    policy,
    shared: new SharedRelayState(data.shared, data.shard, data.size, data.quota),
    records: { add: (record) => records.add(record) },
  });
  port.on("message", (message: ToShard) => {
    switch (message.type) {
      case "policy":
        // The main thread compiled this snapshot before sending it; a failure here is a bug.
        try {
          const { failures } = policy.apply(message.snapshot);
          if (failures.length > 0) {
            logger.error(
              { version: message.snapshot.version, failures: describeFailures(failures) },
              "policy in force, but carrying it out failed in part",
            );
          }
        } catch (error) {
          logger.error({ err: (error as Error).message }, "shard could not apply the policy");
        }
        return;
      case "terminate":
        relay.sessions.get(message.id)?.close(message.reason);
        return;
      case "collect":
        if (message.what === "metrics") {
          void relay.metrics.registry
            .getMetricsAsJSON()
            .then((metrics) => post({ type: "metrics", request: message.request, metrics }));
        } else {
          void relay
            .activeSessions()
            .then((sessions) => post({ type: "sessions", request: message.request, sessions }));
        }
        return;
      case "close":
        void relay.close(message.graceMs).then(() => {
          // The records of the sessions the close ended go before "closed".
          records.flush();
          logger.flush();
          post({ type: "closed" });
          port.close();
        });
        return;
    }
  });
  post({ type: "listening" });
  releaseStartupMemory();
} catch (error) {
  post({
    type: "failed",
    message: (error as Error).message,
    code: (error as NodeJS.ErrnoException).code,
  });
  port.close();
}

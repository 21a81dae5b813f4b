import {
  AggregatorRegistry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";

export {
  Counter,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from "prom-client";

/** A registry with the process default metrics (CPU, RSS, event loop lag, GC). */
export function createRegistry(
  prefix = "edgesocks_",
  options: { processMetrics?: boolean } = {},
): Registry {
  const registry = new Registry();
  // Worker threads share their process: its metrics are exported once, by the main thread.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/**
 * One registry for several threads of one process: each metric summed over
 * the threads (gauges by their `aggregator`). Metrics only `main` has and
 * prom-client would omit when aggregating (process start time) are kept as
 * `main` reports them.
 */
export function aggregateMetrics(main: MetricJson[], others: MetricJson[][]): Registry {
  // Both halves come from text-format registries; the merge keeps that format.
  const aggregated = AggregatorRegistry.aggregate([main, ...others]) as Registry;
  const omitted = main
    .filter((metric) => !aggregated.getSingleMetric(metric.name))
    .map((metric) => ({ ...metric, aggregator: "first" as const }));
  if (omitted.length === 0) return aggregated;
  return Registry.merge([aggregated, AggregatorRegistry.aggregate([omitted])]) as Registry;
}

/** Latency buckets in seconds from 100 µs to 10 s, for handshakes, DNS and connects. */
export const latencyBucketsSeconds = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Session duration buckets in seconds from 10 ms to 1 day. */
export const durationBucketsSeconds = [
  0.01,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
  4 * 3600,
  86400,
];

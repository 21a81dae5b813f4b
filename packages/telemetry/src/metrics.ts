import { collectDefaultMetrics, Registry } from "prom-client";

export { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** A registry with the process default metrics (CPU, RSS, event loop lag, GC). */
export function createRegistry(prefix = "edgesocks_"): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
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

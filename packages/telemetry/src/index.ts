export { type BuildInfo, buildCommit, registerBuildInfo } from "./build-info";
export {
  createLogger,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from "./logger";
export {
  aggregateMetrics,
  Counter,
  createRegistry,
  durationBucketsSeconds,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from "./metrics";

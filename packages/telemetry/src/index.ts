export {
  createLogger,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type LogLevel,
} from "./logger";
export {
  Counter,
  createRegistry,
  durationBucketsSeconds,
  Gauge,
  Histogram,
  latencyBucketsSeconds,
  type Registry,
} from "./metrics";

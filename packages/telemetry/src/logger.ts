import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

export type LogFormat = "pretty" | "json";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface LoggerOptions {
  /** @default "info" */
  level?: LogLevel;
  /** `pretty` for people at a terminal, `json` for log shippers. @default "json" */
  format?: LogFormat;
  /** Static fields on every line, e.g. `{ service: "relay", node: "relay-eu-1" }`. */
  base?: Record<string, unknown>;
  /** Where lines go; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
}

export type { Logger };

export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = "info", format = "json", base = {}, destination } = options;
  const pinoOptions = { level, base, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === "pretty") {
    // A synchronous stream, not a worker transport: lines stay in order with
    // the rest of the process's output and none are lost on exit.
    const stream = pretty({
      colorize: false,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
      sync: true,
      ...(destination ? { destination } : {}),
    });
    return pino(pinoOptions, stream);
  }
  return pino(pinoOptions, destination ?? pino.destination({ fd: 1, sync: false }));
}

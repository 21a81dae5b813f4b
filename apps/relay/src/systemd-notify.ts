import { execFile } from "node:child_process";
import type { RelayEnv } from "./env";

/**
 * sd_notify for a process that cannot send unix datagrams itself (Node has no
 * AF_UNIX/SOCK_DGRAM sockets): each message is handed to the `systemd-notify`
 * binary. Its messages come from a child, not the main pid, so the unit needs
 * `NotifyAccess=all`; since systemd 246 `systemd-notify` waits for the manager
 * to process the message (a barrier), so the child exiting early does not lose
 * the attribution to our unit.
 */
export interface SystemdNotifier {
  /** True when started by systemd with Type=notify (NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** The watchdog ping interval (half of WatchdogSec), or undefined when no watchdog runs for us. */
  readonly watchdogIntervalMs: number | undefined;
  /** READY=1 plus a STATUS= line. */
  ready(status: string): Promise<void>;
  /** STOPPING=1: shutdown has begun (systemd then waits TimeoutStopSec). */
  stopping(): Promise<void>;
  /** Starts WATCHDOG=1 pings from the event loop: a blocked loop stops them and systemd restarts us. */
  startWatchdog(): void;
  close(): void;
}

export interface NotifierOptions {
  env: RelayEnv;
  /** Reports a failed notification (missing binary, socket gone); never throws. */
  onError: (message: string) => void;
  /** @default "systemd-notify" */
  binary?: string;
  /** The pid WATCHDOG_PID must match. @default process.pid */
  pid?: number;
}

/** Longest a single `systemd-notify` call may take before it is killed. */
const NOTIFY_TIMEOUT_MS = 5_000;

export function createSystemdNotifier(options: NotifierOptions): SystemdNotifier {
  const { env, onError } = options;
  const binary = options.binary ?? "systemd-notify";
  const pid = options.pid ?? process.pid;
  const enabled = env.NOTIFY_SOCKET !== undefined;
  // sd_watchdog_enabled(): WATCHDOG_USEC set, and WATCHDOG_PID unset or ours.
  const watchdogFor = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === pid;
  const watchdogIntervalMs =
    enabled && env.WATCHDOG_USEC !== undefined && watchdogFor
      ? Math.max(500, Math.floor(env.WATCHDOG_USEC / 1000 / 2))
      : undefined;
  let timer: NodeJS.Timeout | undefined;
  let pinging = false;

  const send = (...messages: string[]) =>
    new Promise<void>((resolve) => {
      if (!enabled) return resolve();
      execFile(binary, messages, { timeout: NOTIFY_TIMEOUT_MS }, (error, _stdout, stderr) => {
        if (error) onError(`${binary} ${messages.join(" ")}: ${stderr.trim() || error.message}`);
        resolve();
      });
    });

  return {
    enabled,
    watchdogIntervalMs,
    ready: (status) => send("--ready", `--status=${status}`),
    stopping: () => send("STOPPING=1"),
    startWatchdog() {
      if (watchdogIntervalMs === undefined || timer) return;
      timer = setInterval(() => {
        // One ping at a time: a hung systemd-notify must not pile up children.
        if (pinging) return;
        pinging = true;
        void send("WATCHDOG=1").finally(() => {
          pinging = false;
        });
      }, watchdogIntervalMs);
      timer.unref();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

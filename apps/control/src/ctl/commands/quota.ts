import { QUOTA_PERIODS, type QuotaPeriod } from "@edgesocks/policy";
import { UsageError } from "../args";
import type { Command } from "../command";
import { emit, table } from "../output";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "10GiB", "500MB", "1048576": bytes; anything else is refused, naming the flag. */
export function parseBytes(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  const bytes = match && unit !== undefined ? Math.round(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      `--${flag}: expected a size such as 1048576, 500MB or 10GiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got "${text}"`,
    );
  }
  return bytes;
}

/** `user:alice` or `group:developers`. */
function parseSubject(text: string): { kind: "user" | "group"; name: string } {
  const match = /^(user|group):(.+)$/.exec(text);
  if (!match) throw new UsageError(`SUBJECT: expected user:NAME or group:NAME, got "${text}"`);
  return { kind: match[1] as "user" | "group", name: match[2]! };
}

function human(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[i]}`;
}

export const quotaCommands: Command[] = [
  {
    name: "quota list",
    summary: "every quota with the fleet's use of it in the period in force",
    examples: ["edgesocksctl quota list", "edgesocksctl quota list --json"],
    async run({ api, json, out }) {
      const usage = await api.quotas.usage.query();
      emit(out, json, usage, () =>
        table(usage.quotas, [
          ["SUBJECT", (q) => q.subject],
          ["USED", (q) => human(q.usedBytes)],
          ["QUOTA", (q) => human(q.quota.bytes)],
          ["PERIOD", (q) => `${q.quota.period} (${usage.timeZone}) from ${q.periodStart}`],
          ["COUNTS", (q) => q.quota.direction],
          ["ON_EXHAUST", (q) => q.quota.onExhaust],
          ["STATE", (q) => (q.exhausted ? "EXHAUSTED" : "ok")],
        ]),
      );
    },
  },
  {
    name: "quota set",
    positionals: ["SUBJECT"],
    summary: "set the traffic quota of user:NAME or group:NAME (a group's is shared)",
    details:
      "Bytes per calendar day, week (from Monday) or month in the quota time zone (quota timezone).\nOnce spent, new requests are refused (SOCKS5 reply 0x02) and open sessions are closed, or\nwith --on-exhaust throttle slowed to --throttle bytes per second.",
    flags: {
      bytes: { type: "string", value: "SIZE", help: "allowance per period: 1048576, 500MB, 10GiB" },
      period: {
        type: "string",
        value: "PERIOD",
        help: "day, week or month (calendar) or rolling_24h, rolling_7d, rolling_30d",
      },
      direction: {
        type: "string",
        value: "total|up|down",
        help: "what counts (default total: both ways)",
      },
      "on-exhaust": {
        type: "string",
        value: "close|throttle",
        help: "what happens to open sessions (default close)",
      },
      throttle: { type: "string", value: "SIZE", help: "bytes per second once spent (throttle)" },
    },
    examples: [
      "edgesocksctl quota set user:alice --bytes 10GiB --period month",
      "edgesocksctl quota set group:interns --bytes 2GB --period day --on-exhaust throttle --throttle 64KiB",
    ],
    async run({ api, args, json, out }) {
      const subject = parseSubject(args.positional(0));
      const period = args.required("period");
      if (!(QUOTA_PERIODS as readonly string[]).includes(period)) {
        throw new UsageError(`--period: expected ${QUOTA_PERIODS.join(" | ")}, got "${period}"`);
      }
      const direction = args.str("direction") ?? "total";
      if (direction !== "total" && direction !== "up" && direction !== "down") {
        throw new UsageError(`--direction: expected total | up | down, got "${direction}"`);
      }
      const onExhaust = args.str("on-exhaust") ?? "close";
      if (onExhaust !== "close" && onExhaust !== "throttle") {
        throw new UsageError(`--on-exhaust: expected close | throttle, got "${onExhaust}"`);
      }
      const throttle = args.str("throttle");
      if ((onExhaust === "throttle") !== (throttle !== undefined)) {
        throw new UsageError("--throttle goes with --on-exhaust throttle, and only with it");
      }
      const result = await api.quotas.set.mutate({
        ...subject,
        quota: {
          bytes: parseBytes("bytes", args.required("bytes")),
          period: period as QuotaPeriod,
          direction,
          onExhaust,
          ...(throttle === undefined
            ? {}
            : { throttleBytesPerSec: parseBytes("throttle", throttle) }),
        },
      });
      emit(
        out,
        json,
        result,
        () => `quota of ${args.positional(0)} set (snapshot v${result.version})`,
      );
    },
  },
  {
    name: "quota clear",
    positionals: ["SUBJECT"],
    summary: "remove the quota of user:NAME or group:NAME",
    examples: ["edgesocksctl quota clear user:alice"],
    async run({ api, args, json, out }) {
      const result = await api.quotas.set.mutate({
        ...parseSubject(args.positional(0)),
        quota: null,
      });
      emit(
        out,
        json,
        result,
        () => `quota of ${args.positional(0)} removed (snapshot v${result.version})`,
      );
    },
  },
  {
    name: "quota reset",
    positionals: ["SUBJECT"],
    summary: "start the period in force over at zero, on every relay",
    examples: ["edgesocksctl quota reset group:interns"],
    async run({ api, args, json, out }) {
      const result = await api.quotas.reset.mutate(parseSubject(args.positional(0)));
      emit(
        out,
        json,
        result,
        () =>
          `quota of ${result.subject} reset (period from ${result.periodStart}; ${result.nodesTold} relays told)`,
      );
    },
  },
  {
    name: "quota timezone",
    positionals: ["ZONE"],
    summary: "the IANA time zone quota days, weeks and months follow (default UTC)",
    examples: ["edgesocksctl quota timezone Europe/Berlin"],
    async run({ api, args, json, out }) {
      const result = await api.quotas.setTimezone.mutate({ timeZone: args.positional(0) });
      emit(out, json, result, () => `quota time zone set (snapshot v${result.version})`);
    },
  },
];

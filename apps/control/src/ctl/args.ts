import { parseArgs } from "node:util";

/** A failed command: one line on stderr, exit 1. */
export class CtlError extends Error {
  override readonly name: string = "CtlError";
}

/** A bad command line (unknown command or flag, missing or bad argument): exit 2, no API call. */
export class UsageError extends CtlError {
  override readonly name = "UsageError";
}

/** Throws "--FLAG is required"; for `args.int(…) ?? missing("port")`. */
export function missing(flag: string): never {
  throw new UsageError(`--${flag} is required`);
}

/** One command-line flag, as `--help` describes it. */
export interface Flag {
  type: "string" | "boolean";
  /** Placeholder in the help, e.g. `N` or `FILE`. */
  value?: string;
  /** May be given more than once (values may also be comma-separated). */
  multiple?: boolean;
  help: string;
}

export type Flags = Record<string, Flag>;

/** Flags every command takes. */
export const COMMON_FLAGS: Flags = {
  json: { type: "boolean", help: "print the API result as JSON (machine output)" },
  help: { type: "boolean", help: "show this help" },
};

const RELATIVE = /^(\d+)(s|m|h|d|w)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** One command's parsed arguments, with typed accessors that name the flag on bad input. */
export class Args {
  constructor(
    readonly positionals: readonly string[],
    private readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  ) {}

  bool(name: string): boolean {
    return this.values[name] === true;
  }

  str(name: string): string | undefined {
    const value = this.values[name];
    const last = Array.isArray(value) ? value.at(-1) : value;
    return typeof last === "string" ? last : undefined;
  }

  required(name: string): string {
    const value = this.str(name);
    return value === undefined || value === "" ? missing(name) : value;
  }

  /** Every value of a repeatable flag, comma-separated values split. */
  list(name: string): string[] | undefined {
    const value = this.values[name];
    if (value === undefined || typeof value === "boolean") return undefined;
    return (Array.isArray(value) ? value : [value])
      .flatMap((v) => String(v).split(","))
      .map((v) => v.trim())
      .filter(Boolean);
  }

  /** Like list(), every value one of `choices`. */
  listOf<T extends string>(name: string, choices: readonly T[]): T[] | undefined {
    const values = this.list(name);
    const bad = values?.find((v) => !choices.includes(v as T));
    if (bad !== undefined)
      throw new UsageError(`--${name}: expected ${choices.join(" | ")}, got "${bad}"`);
    return values as T[] | undefined;
  }

  int(name: string, range: { min?: number; max?: number } = {}): number | undefined {
    const value = this.str(name);
    if (value === undefined) return undefined;
    const n = Number(value);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new UsageError(
        `--${name}: expected a whole number from ${min} to ${max}, got "${value}"`,
      );
    }
    return n;
  }

  oneOf<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.str(name);
    if (value === undefined) return undefined;
    if (!choices.includes(value as T))
      throw new UsageError(`--${name}: expected ${choices.join(" | ")}, got "${value}"`);
    return value as T;
  }

  /** An ISO time, or a duration ago (`90s`, `15m`, `2h`, `7d`, `1w`), as ISO. */
  time(name: string, nowMs = Date.now()): string | undefined {
    const value = this.str(name);
    if (value === undefined) return undefined;
    const relative = RELATIVE.exec(value);
    if (relative) {
      return new Date(
        nowMs - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS],
      ).toISOString();
    }
    const ms = Date.parse(value);
    if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(ms)) {
      throw new UsageError(
        `--${name}: expected an ISO time (2026-01-31T12:00:00Z) or an age (15m, 2h, 7d), got "${value}"`,
      );
    }
    return new Date(ms).toISOString();
  }

  positional(index: number): string {
    return this.positionals[index]!;
  }
}

/**
 * Parses one command's arguments against its flags; exactly `positionals` arguments are taken.
 * Unknown flags, missing or extra arguments are a CtlError naming them.
 */
export function parseCommandArgs(
  argv: readonly string[],
  flags: Flags,
  positionals: readonly string[],
): Args {
  let parsed: ReturnType<typeof parseArgs>;
  const all = { ...flags, ...COMMON_FLAGS };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(all).map(([name, f]) => [
          name,
          {
            type: f.type,
            ...(f.multiple ? { multiple: true } : {}),
            ...(name === "help" ? { short: "h" } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    throw new UsageError((cause as Error).message.replace(/\. To specify.*$/s, ""), { cause });
  }
  const args = new Args(parsed.positionals, parsed.values);
  if (args.bool("help")) return args;
  if (parsed.positionals.length < positionals.length) {
    throw new UsageError(`missing ${positionals.slice(parsed.positionals.length).join(" ")}`);
  }
  if (parsed.positionals.length > positionals.length) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals.length]}"`);
  }
  return args;
}

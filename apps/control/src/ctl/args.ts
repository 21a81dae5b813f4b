import { parseArgs } from "node:util";

/** A usage problem: one line on stderr, exit 1. */
export class CtlError extends Error {
  override name = "CtlError";
}

export interface Parsed {
  positionals: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
}

/** Parses one command's arguments; unknown flags are a CtlError naming them. */
export function parse(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>,
): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { positionals, flags: values as Parsed["flags"] };
  } catch (cause) {
    throw new CtlError((cause as Error).message, { cause });
  }
}

export function str(parsed: Parsed, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === "string" ? value : undefined;
}

export function required(parsed: Parsed, name: string): string {
  const value = str(parsed, name);
  if (value === undefined) throw new CtlError(`--${name} is required`);
  return value;
}

export function list(parsed: Parsed, name: string): string[] | undefined {
  const value = parsed.flags[name];
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [String(value)]).flatMap((v) => v.split(","));
  return items.map((v) => v.trim()).filter(Boolean);
}

export function int(parsed: Parsed, name: string): number | undefined {
  const value = str(parsed, name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value))
    throw new CtlError(`--${name}: expected a whole number, got "${value}"`);
  return Number(value);
}

export function positional(parsed: Parsed, index: number, what: string): string {
  const value = parsed.positionals[index];
  if (value === undefined) throw new CtlError(`missing ${what}`);
  return value;
}

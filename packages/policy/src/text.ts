import { z } from "zod";

/** Options of text(): every text that crosses a boundary has a length bound. */
export interface TextOptions {
  /** Fewest UTF-16 code units. @default 0 */
  min?: number;
  /** Most UTF-16 code units (zod's string length). */
  max: number;
  /** Allow tab, line feed and carriage return (free-text fields such as reasons). @default false */
  multiline?: boolean;
}

// C0 controls (NUL included), DEL and C1 controls; the multiline variant keeps \t \n \r.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL_MULTILINE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

const codePoint = (char: string) =>
  `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Why `value` is not acceptable text, or null when it is: a lone UTF-16 surrogate (which no
 * UTF-8 encoder can represent) or a control character (NUL included) is refused.
 */
export function textProblem(value: string, multiline = false): string | null {
  if (!value.isWellFormed()) {
    const at = [...value].findIndex((char) => !char.isWellFormed());
    return `is not well-formed Unicode (lone surrogate at character ${at})`;
  }
  const control = (multiline ? CONTROL_MULTILINE : CONTROL).exec(value);
  if (control !== null) {
    return `contains the control character ${codePoint(control[0])} at index ${control.index}`;
  }
  return null;
}

/**
 * The one schema for text from outside: a string of well-formed Unicode without control
 * characters, at most `max` long. Use it instead of z.string() at every boundary (wire, API
 * inputs, snapshots, config files), so nothing downstream (SQLite, logs, TOML) sees bytes that
 * are not valid UTF-8.
 */
export function text(options: TextOptions) {
  const multiline = options.multiline ?? false;
  return z
    .string()
    .min(options.min ?? 0)
    .max(options.max)
    .check((ctx) => {
      const problem = textProblem(ctx.value, multiline);
      if (problem !== null) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    });
}

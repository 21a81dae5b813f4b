/** Rows as an aligned text table for people (`--json` prints the raw value instead). */
export function table<T extends object>(
  rows: readonly T[],
  columns: readonly (readonly [header: string, cell: (row: T) => unknown])[],
): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((row) => columns.map(([, cell]) => text(cell(row))));
  const widths = columns.map(([header], i) =>
    Math.max(header.length, ...cells.map((r) => r[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(columns.map(([header]) => header)), ...cells.map(line)].join("\n");
}

/** A cell or field for people: `-` for nothing, lists comma-joined. */
export function text(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(text).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** `key  value` lines, keys aligned. */
export function fields(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${text(v)}`).join("\n");
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function ms(value: number | null): string | null {
  return value === null ? null : value.toFixed(1);
}

/** Prints `value` as JSON with `--json`, else the human rendering. */
export function emit(
  out: (text: string) => void,
  json: boolean,
  value: unknown,
  human: () => string,
): void {
  out(json ? JSON.stringify(value, null, 2) : human());
}

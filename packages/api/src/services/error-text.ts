/** The messages of an error and its causes, joined, for matching database constraint errors. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(" <- ");
}

/** True when `error` is SQLite refusing a duplicate key. */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  const text = errorText(error);
  return (
    /UNIQUE constraint failed|PRIMARY KEY|SQLITE_CONSTRAINT/.test(text) &&
    (column === undefined || text.includes(column))
  );
}

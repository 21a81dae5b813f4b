// The parameters of an SQL statement, numbered as SQLite numbers them (`?` takes the next index,
// `?NNN` that index, `:x` `@x` `$x` one index per distinct name), found by a small tokenizer
// that skips string literals, quoted identifiers and comments. The engine binds without
// checking, and its binding of named values to nameless parameters can abort the process, so
// the test server checks arguments against this before binding.

export interface ParamInfo {
  /** The highest parameter index (sqlite3_bind_parameter_count). */
  count: number;
  /** Index → name with its prefix (`:x`, `@x`, `$x`, `?3`) or null for `?`. */
  names: Map<number, string | null>;
}

const CLOSERS: Record<string, string> = { "'": "'", '"': '"', "`": "`", "[": "]" };
const NAME_CHAR = /[A-Za-z0-9_]/;

export function statementParams(sql: string): ParamInfo {
  const names = new Map<number, string | null>();
  const byName = new Map<string, number>();
  let count = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const closer = CLOSERS[c];
    if (closer !== undefined) {
      const end = sql.indexOf(closer, i + 1);
      i = end === -1 ? sql.length : end + 1; // '' inside a literal is two adjacent literals here
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "?" || c === ":" || c === "@" || c === "$") {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j]!)) j++;
      const token = sql.slice(i, j);
      if (c === "?" && token.length > 1 && /^\?\d+$/.test(token)) {
        const index = Number(token.slice(1));
        names.set(index, token);
        count = Math.max(count, index);
      } else if (c === "?") {
        count += 1;
        names.set(count, null);
        j = i + 1;
      } else if (token.length > 1) {
        let index = byName.get(token);
        if (index === undefined) {
          index = ++count;
          byName.set(token, index);
          names.set(index, token);
        }
      }
      i = j;
    } else {
      i++;
    }
  }
  return { count, names };
}

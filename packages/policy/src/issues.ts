import type { z } from "zod";

/** `users[3].groups[0]` from ["users", 3, "groups", 0]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** How many issues an error message lists before summarising the rest. */
const MAX_LISTED_ISSUES = 20;

/**
 * One line per issue, `path: message`, so the first line alone is a usable error.
 * `rename` may rewrite a path for display (the acl.toml loader adds usernames).
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  rename: (path: readonly PropertyKey[]) => string = formatPath,
): string {
  const lines = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const path = rename(issue.path);
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  });
  if (issues.length > MAX_LISTED_ISSUES) {
    lines.push(`... and ${issues.length - MAX_LISTED_ISSUES} more problems`);
  }
  return lines.join("\n");
}

import { VERSION } from "../version";
import { COMMON_FLAGS, type Flags } from "./args";
import type { Command } from "./command";
import { DEFAULT_URL, synopsis } from "./help";

/** Text safe in roff: backslashes and leading dots/quotes escaped. */
function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(
      /[^\t\n -~]/gu,
      (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`,
    )
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

function flagItems(flags: Flags): string[] {
  return Object.entries(flags).flatMap(([name, flag]) => [
    ".TP",
    `.B \\-\\-${roff(name)}${flag.value ? ` " ${roff(flag.value)}"` : ""}`,
    roff(`${flag.help}${flag.multiple ? " (repeatable; or A,B)" : ""}`),
  ]);
}

/** edgesocksctl(1), from the same command table as --help. */
export function manPage(commands: readonly Command[]): string {
  const lines = [
    `.TH EDGESOCKSCTL 1 "" "edgesocksctl ${VERSION}" "EdgeSocks"`,
    ".SH NAME",
    "edgesocksctl \\- manage an EdgeSocks fleet through the control plane API",
    ".SH SYNOPSIS",
    ".B edgesocksctl",
    "[\\-\\-url URL] [\\-\\-token TOKEN] COMMAND [ARGS] [FLAGS]",
    ".SH DESCRIPTION",
    "Every command calls the control plane's admin API with an admin or viewer token.",
    "\\-\\-json prints the API result as JSON on stdout.",
    ".SH GLOBAL OPTIONS",
    ".TP",
    '.B \\-\\-url " URL"',
    roff(`control plane base URL (env EDGESOCKS_URL; default ${DEFAULT_URL})`),
    ".TP",
    '.B \\-\\-token " TOKEN"',
    "admin or viewer API token (env EDGESOCKS_TOKEN keeps it out of ps and shell history)",
    ".TP",
    ".B \\-\\-version",
    "print the version",
    ...flagItems(COMMON_FLAGS),
    ".SH COMMANDS",
  ];
  for (const command of commands) {
    lines.push(`.SS "${roff(synopsis(command))}"`, roff(`${command.summary}.`));
    if (command.details) lines.push(".PP", roff(command.details.replace(/\n/g, " ")));
    if (command.flags) lines.push(...flagItems(command.flags));
    if (command.examples?.length) {
      lines.push(".PP", "Examples:", ".RS", ".nf", ...command.examples.map(roff), ".fi", ".RE");
    }
  }
  lines.push(
    ".SH ENVIRONMENT",
    ".TP",
    ".B EDGESOCKS_URL",
    "control plane base URL",
    ".TP",
    ".B EDGESOCKS_TOKEN",
    "API token",
    ".SH EXIT STATUS",
    "0 done; 1 the command failed; 2 bad command line (nothing was called).",
    ".SH SEE ALSO",
    "edgesocks\\-relay(1), edgesocks\\-control(1)",
    "",
  );
  return lines.join("\n");
}

import { UsageError } from "../args";
import type { Command } from "../command";
import { bashCompletion, zshCompletion } from "../completion";
import { manPage } from "../man";

/** The table these are generated from (imported late: it includes this file). */
const table = async () => (await import("./index")).COMMANDS;

export const metaCommands: Command[] = [
  {
    name: "completion",
    positionals: ["SHELL"],
    summary: "print a shell completion script (bash or zsh)",
    offline: true,
    examples: [
      "source <(edgesocksctl completion bash)",
      "edgesocksctl completion zsh > ~/.zsh/completions/_edgesocksctl",
    ],
    async run({ args }) {
      const shell = args.positional(0);
      if (shell !== "bash" && shell !== "zsh")
        throw new UsageError(`SHELL: expected bash | zsh, got "${shell}"`);
      const commands = await table();
      process.stdout.write(shell === "bash" ? bashCompletion(commands) : zshCompletion(commands));
    },
  },
  {
    name: "man",
    summary: "print the edgesocksctl(1) manual page (roff)",
    offline: true,
    examples: ["edgesocksctl man | man -l -", "npm run man -w @edgesocks/control"],
    async run() {
      process.stdout.write(manPage(await table()));
    },
  },
];

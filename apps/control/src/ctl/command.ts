import type { AppRouter } from "@edgesocks/api";
import type { TRPCClient } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { Args, Flags } from "./args";

export type Api = TRPCClient<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;
export type Outputs = inferRouterOutputs<AppRouter>;

export interface RunContext {
  api: Api;
  args: Args;
  /** `--json`: machine output on stdout, nothing else. */
  json: boolean;
  /** The control plane base URL in use (for hints such as the relay command line). */
  url: string;
  out: (text: string) => void;
}

/** One `edgesocksctl GROUP ACTION` (or a lone `stats`), with everything `--help` shows. */
export interface Command {
  /** `users add`, `stats`. */
  name: string;
  /** Positional arguments, in order, e.g. `["NAME"]`. */
  positionals?: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** More paragraphs for `COMMAND --help`. */
  details?: string;
  flags?: Flags;
  examples?: readonly string[];
  /** Needs no control plane (and no token): completion, man, tokens roles. */
  offline?: boolean;
  run(context: RunContext): Promise<void>;
}

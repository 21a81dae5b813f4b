import { z } from "zod";

/**
 * The relay's environment, parsed once. The service manager's protocol variables and the node
 * token (kept out of argv, which `ps` shows); everything else is a flag or the config file.
 */
const Env = z.object({
  /** The node token (fleet mode) when neither --node-token-file nor --node-token is given. */
  EDGESOCKS_NODE_TOKEN: z.string().min(1).optional(),
  /** systemd's notification socket (Type=notify): set by the service manager. */
  NOTIFY_SOCKET: z.string().min(1).optional(),
  /** systemd's watchdog interval in microseconds (WatchdogSec=). */
  WATCHDOG_USEC: z.coerce.number().int().positive().optional(),
  /** The pid the watchdog is meant for; another pid means "not us". */
  WATCHDOG_PID: z.coerce.number().int().positive().optional(),
});
export type RelayEnv = z.infer<typeof Env>;

/** Parses the environment; a malformed value is treated as unset (the manager never sends one). */
export function readEnv(source: NodeJS.ProcessEnv = process.env): RelayEnv {
  const env: RelayEnv = {};
  for (const key of Object.keys(Env.shape) as (keyof RelayEnv)[]) {
    const parsed = Env.shape[key].safeParse(source[key]);
    if (parsed.success && parsed.data !== undefined) Object.assign(env, { [key]: parsed.data });
  }
  return env;
}

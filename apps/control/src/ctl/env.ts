/** Every environment variable edgesocksctl reads. */
export interface CtlEnv {
  /** Control plane base URL, like `--url` (checked by baseUrl with the flag's value). */
  EDGESOCKS_URL?: string;
  /** Admin or viewer API token (`esa_…`), like `--token`. */
  EDGESOCKS_TOKEN?: string;
}

/**
 * The only place edgesocksctl reads the environment; empty values count as unset. Two opaque
 * strings need no schema library, and importing zod would add ~90 ms to every invocation.
 */
export function readCtlEnv(source: Record<string, string | undefined> = process.env): CtlEnv {
  const env: CtlEnv = {};
  if (source.EDGESOCKS_URL) env.EDGESOCKS_URL = source.EDGESOCKS_URL;
  if (source.EDGESOCKS_TOKEN) env.EDGESOCKS_TOKEN = source.EDGESOCKS_TOKEN;
  return env;
}
